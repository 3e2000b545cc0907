// metricsText: the same text as prom-client's registry.metrics(), rendered without holding the event loop
// for the whole scrape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry, type RegistryContentType } from 'prom-client';
import { metricsText } from './metrics-text.ts';

function registryWith(metrics: number): Registry<RegistryContentType> {
  const registry = new Registry<RegistryContentType>();
  for (let i = 0; i < metrics; i++) {
    const labelNames = ['link', 'from', 'to'] as const;
    const c = new Counter({
      name: `t_bytes_${i}_total`,
      help: `bytes "${i}"\\n`,
      labelNames,
      registers: [registry],
    });
    const h = new Histogram({
      name: `t_delay_${i}_seconds`,
      help: 'delay',
      labelNames,
      buckets: [0.001, 0.01],
      registers: [registry],
    });
    const g = new Gauge({ name: `t_up_${i}`, help: 'up', registers: [registry] });
    c.inc({ link: 'ue-edge', from: 'ue', to: 'edge' }, 64 * i);
    c.inc({ link: 'ue-edge+edge-cloud', from: 'cloud', to: 'ue' }, 3);
    h.observe({ link: 'ue-edge', from: 'edge', to: 'ue' }, 0.004);
    g.set(i);
  }
  return registry;
}

describe('metricsText', () => {
  it('renders exactly what registry.metrics() renders', async () => {
    for (const n of [0, 1, 5]) {
      const registry = registryWith(n);
      assert.equal(await metricsText(registry), await registry.metrics());
    }
  });

  it('gives the event loop a turn between metrics', async () => {
    const registry = registryWith(10); // 30 metrics
    let turns = 0;
    let probing = true;
    const probe = () => {
      turns++;
      if (probing) setImmediate(probe);
    };
    setImmediate(probe);
    await metricsText(registry);
    probing = false;
    // One turn per metric (registry.metrics() renders them all in one turn, and this would see 0 or 1).
    assert.ok(turns >= 29, `the probe ran ${turns} times while 30 metrics were rendered`);
  });

  it('leaves the OpenMetrics format to prom-client', async () => {
    const registry = registryWith(2);
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const text = await metricsText(registry);
    assert.equal(text, await registry.metrics());
    assert.match(text, /# EOF\n$/);
  });
});
