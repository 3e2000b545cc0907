import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { PRESETS, topologyFrom } from '../topology/index.ts';
import { loadAgentConfig } from './main.ts';
import { createAgentMetrics, createMetricsServer } from './metrics.ts';
import { desiredTree } from './plan.ts';

describe('agent configuration', () => {
  it('defaults, and every bad variable named at once', () => {
    const ok = loadAgentConfig({ NODE_NAME: 'mec-worker2' });
    assert.ok(ok.ok);
    assert.deepEqual(ok.config, {
      nodeName: 'mec-worker2',
      device: 'eth0',
      metricsPort: 9465,
      host: '0.0.0.0',
      logLevel: 'info',
      mode: 'netem',
      namespace: 'mec-testbed-system',
      profileConfigMap: 'link-profile',
      shutdownTimeoutSeconds: 10,
    });
    const fromManifest = loadAgentConfig({ NODE_NAME: 'n', PORT: '9470', LINK_BACKEND: 'off' });
    assert.ok(fromManifest.ok);
    assert.equal(fromManifest.config.metricsPort, 9470);
    assert.equal(fromManifest.config.mode, 'off');
    const bad = loadAgentConfig({ NODE_NAME: 'Bad_Name', INTERFACE: 'lo', METRICS_PORT: '70000' });
    assert.ok(!bad.ok);
    assert.equal(bad.errors.length, 3);
    assert.match(bad.errors.join('\n'), /NODE_NAME="Bad_Name" is invalid/);
    assert.match(bad.errors.join('\n'), /INTERFACE="lo" is invalid: expected a network interface name/);
    const missing = loadAgentConfig({});
    assert.ok(!missing.ok);
    assert.match(missing.errors[0] ?? '', /NODE_NAME is not set: .*downward API/);
  });

  it('the entrypoint exits 1 with the message when NODE_NAME is missing', async () => {
    const run = promisify(execFile);
    await assert.rejects(
      run(process.execPath, ['services/link-agent/main.ts'], {
        env: { PATH: process.env.PATH },
        timeout: 20_000,
      }),
      (err: { code?: number; stderr?: string }) =>
        err.code === 1 && /NODE_NAME is not set/.test(err.stderr ?? ''),
    );
  });
});

describe('metrics endpoint', () => {
  it('serves the contract gauges, /healthz and JSON errors', async () => {
    const metrics = createAgentMetrics({ defaultMetrics: false });
    const topology = topologyFrom(PRESETS['5g-mec'], '5g-mec');
    metrics.setConfigured(desiredTree({ topology, site: 'edge', peers: [], device: 'eth0' }).tree, topology);
    metrics.setNetemAvailable('mec-worker2', true);
    metrics.observeDrops('edge', 'cloud', 5);
    metrics.observeDrops('edge', 'cloud', 7);
    metrics.observeDrops('edge', 'cloud', 2); // the leaf was replaced: its counter restarted
    const server = createMetricsServer(metrics, () => ({ ok: true, passes: 3 }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const text = await (await fetch(`${base}/metrics`)).text();
      for (const line of [
        'mec_link_configured_latency_seconds{link="edge-cloud",from="edge",to="cloud",backend="netem"} 0.009',
        'mec_link_configured_jitter_seconds{link="ue-edge",from="edge",to="ue",backend="netem"} 0.002',
        'mec_link_configured_loss_ratio{link="edge-cloud",from="edge",to="cloud",backend="netem"} 0.0001',
        'mec_link_configured_rate_bytes_per_second{link="ue-edge",from="edge",to="ue",backend="netem"} 100000000',
        'mec_link_profile_info{profile="5g-mec",backend="netem"} 1',
        'mec_link_predicted_round_trip_seconds{target_site="cloud",backend="netem"} 0.03',
        'mec_link_predicted_edge_reduction_ratio{backend="netem"} 0.6',
        'mec_link_netem_available{node="mec-worker2"} 1',
        'mec_link_netem_drops_total{from="edge",to="cloud"} 9',
        'mec_link_agent_apply_errors_total 0',
      ]) {
        assert.ok(text.includes(line), `missing: ${line}`);
      }
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { ok: true, passes: 3 });
      const missing = await fetch(`${base}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'not_found');
    } finally {
      server.close();
    }
  });
});
