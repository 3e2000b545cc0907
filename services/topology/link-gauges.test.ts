import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { PRESETS, prediction, topologyFrom } from './index.ts';
import { createConfiguredLinkGauges } from './link-gauges.ts';

describe('the profile gauges', () => {
  it('export the configured links and the prediction, and nothing once no profile is applied', async () => {
    const registry = new Registry();
    const gauges = createConfiguredLinkGauges(registry, 'proxy');
    const topology = topologyFrom(PRESETS['4g-lte'], '4g-lte');
    gauges.show(topology, topology.links);
    const text = await registry.metrics();
    const predicted = prediction(topology);
    assert.deepEqual(predicted, {
      client: 'ue',
      roundTripSeconds: { edge: 0.028, cloud: 0.046 },
      edgeReduction: 0.391304347826,
    });
    for (const [site, seconds] of Object.entries(predicted.roundTripSeconds))
      assert.ok(
        text.includes(
          `mec_link_predicted_round_trip_seconds{target_site="${site}",backend="proxy"} ${seconds}\n`,
        ),
        text,
      );
    assert.ok(text.includes('mec_link_predicted_edge_reduction_ratio{backend="proxy"} 0.391304347826\n'));
    assert.ok(
      text.includes(
        'mec_link_configured_loss_ratio{link="ue-edge",from="ue",to="edge",backend="proxy"} 0.003\n',
      ),
    );
    assert.ok(text.includes('mec_link_profile_info{profile="4g-lte",backend="proxy"} 1\n'));
    gauges.show(undefined, []);
    assert.doesNotMatch(await registry.metrics(), /^mec_link_\w+\{/m);
  });
});
