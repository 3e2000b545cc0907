import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRESETS, topologyFrom } from '../services/topology/index.ts';
import { siteComputePatches } from './site-compute.ts';

test("each service's CPU limit and SITE_CORES are its site's cores", () => {
  const doc = {
    ...PRESETS['5g-mec'],
    name: 'small-edge',
    sites: { edge: { cores: 1 }, cloud: { cores: 2.5 } },
  };
  const limits = siteComputePatches(topologyFrom(doc, 'small-edge')).map((p) => [
    p.metadata.name,
    p.spec.template.spec.containers[0]?.resources.limits.cpu,
  ]);
  assert.deepEqual(limits, [
    ['edge', '1'],
    ['cloud', '2500m'],
  ]);
  const cores = siteComputePatches(topologyFrom(doc, 'small-edge')).map(
    (p) => p.spec.template.spec.containers[0]?.env,
  );
  assert.deepEqual(cores, [[{ name: 'SITE_CORES', value: '1' }], [{ name: 'SITE_CORES', value: '2.5' }]]);
});
