import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Histogram, Registry } from 'prom-client';
import { DURATION_BUCKETS_SECONDS, histogramSeries } from './metrics.ts';

function pair() {
  const make = () => {
    const registry = new Registry();
    const histogram = new Histogram({
      name: 'mec_test_seconds',
      help: 'test',
      labelNames: ['site', 'route', 'status_code'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    });
    return { registry, histogram };
  };
  return { fast: make(), plain: make() };
}

// Below, on and between bounds, above the top bound (only +Inf), and zero.
const VALUES = [0, 0.0001, 0.0005, 0.0007, 0.001, 0.02, 0.5, 0.75, 4.9, 5, 7, 120];

describe('histogramSeries', () => {
  it('exports exactly what Histogram#observe exports for the same values', async () => {
    const { fast, plain } = pair();
    const labels = { site: 'edge', route: '/api/v1/echo', status_code: '200' };
    const series = histogramSeries(fast.histogram, labels);
    // The point is the direct path: were prom-client's layout to change, the fallback would hide it here.
    fast.histogram.observe = () => assert.fail('histogramSeries fell back to Histogram#observe');
    for (const v of VALUES) {
      series.observe(v);
      plain.histogram.observe({ ...labels }, v);
    }
    const text = await fast.registry.metrics();
    assert.equal(text, await plain.registry.metrics());
    assert.match(text, /mec_test_seconds_count\{site="edge",route="\/api\/v1\/echo",status_code="200"\} 12/);
  });

  it('continues a series observed before it was resolved instead of zeroing it', async () => {
    const { fast, plain } = pair();
    for (const h of [fast.histogram, plain.histogram])
      h.observe({ site: 'edge', route: '/x', status_code: '404' }, 0.003);
    histogramSeries(fast.histogram, { site: 'edge', route: '/x', status_code: '404' }).observe(0.2);
    plain.histogram.observe({ site: 'edge', route: '/x', status_code: '404' }, 0.2);
    assert.equal(await fast.registry.metrics(), await plain.registry.metrics());
  });

  it('keeps counting after the histogram is reset, from zero', async () => {
    const { fast, plain } = pair();
    const labels = { site: 'cloud', route: '/healthz', status_code: '200' };
    const series = histogramSeries(fast.histogram, labels);
    series.observe(1);
    fast.histogram.reset();
    series.observe(0.01);
    plain.histogram.observe({ ...labels }, 0.01);
    assert.equal(await fast.registry.metrics(), await plain.registry.metrics());
  });

  it('keeps series apart', async () => {
    const { fast, plain } = pair();
    const a = { site: 'edge', route: '/a', status_code: '200' };
    const b = { site: 'edge', route: '/a', status_code: '500' };
    const sa = histogramSeries(fast.histogram, a);
    const sb = histogramSeries(fast.histogram, b);
    for (const [i, v] of VALUES.entries()) {
      (i % 2 ? sa : sb).observe(v);
      plain.histogram.observe({ ...(i % 2 ? a : b) }, v);
    }
    assert.equal(await fast.registry.metrics(), await plain.registry.metrics());
  });
});
