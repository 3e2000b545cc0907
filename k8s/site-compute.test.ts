import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PRESETS, topologyFrom } from '../services/topology/index.ts';
import { siteComputePatches } from './site-compute.ts';

test("each service's CPU limit, SITE_CORES and libuv's pool follow its site's cores", () => {
  const doc = {
    ...PRESETS['5g-mec'],
    name: 'small-edge',
    sites: { edge: { cores: 1 }, cloud: { cores: 8 } },
  };
  const limits = siteComputePatches(topologyFrom(doc, 'small-edge')).map((p) => [
    p.metadata.name,
    p.spec.template.spec.containers[0]?.resources.limits.cpu,
  ]);
  assert.deepEqual(limits, [
    ['edge', '1'],
    ['cloud', '8'],
  ]);
  const cores = siteComputePatches(topologyFrom(doc, 'small-edge')).map(
    (p) => p.spec.template.spec.containers[0]?.env,
  );
  // libuv's pool keeps Node's 4 threads, and has one per worker beyond that (each worker's decode runs there).
  assert.deepEqual(cores, [
    [
      { name: 'SITE_CORES', value: '1' },
      { name: 'UV_THREADPOOL_SIZE', value: '4' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
    ],
    [
      { name: 'SITE_CORES', value: '8' },
      { name: 'UV_THREADPOOL_SIZE', value: '8' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
    ],
  ]);
  assert.deepEqual(
    siteComputePatches(
      topologyFrom({ ...doc, sites: { edge: { cores: 2.5 }, cloud: { cores: 1 } } }, 'x'),
    ).map((p) => p.spec.template.spec.containers[0]?.resources.limits.cpu),
    ['2500m', '1'],
  );
});
