// cluster.ts's informers against an in-process fake API server (fake-apiserver.ts): the paths a real control
// plane makes hard to force on demand — a watch expiring with 410 Gone (list again, see deletions that
// happened meanwhile) and the API server going away and coming back on the same port. cluster.test.ts runs the
// same loop against the real kube-apiserver.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { FakeApiServer } from '../../test/support/fake-apiserver.ts';
import { eventually } from '../../test/support/kube.ts';
import { PRESETS } from '../topology/index.ts';
import { type ClusterWatch, watchCluster } from './cluster.ts';
import { FakeTc } from './fake-tc.ts';
import { createAgentMetrics } from './metrics.ts';
import { Reconciler } from './reconcile.ts';
import { parseStatus, statusPublisher } from './status.ts';

const NS = 'mec-testbed-system';
const node = (name: string, site: string, n: number, extra: Record<string, string> = {}): V1Node => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels: { 'mec-testbed.dev/site': site, ...extra } },
  spec: { podCIDR: `10.244.${n}.0/24`, podCIDRs: [`10.244.${n}.0/24`] },
  status: { addresses: [{ type: 'InternalIP', address: `172.18.0.${n}` }] },
});
const profile = (name: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'link-profile', namespace: NS },
  data: { 'profile.yaml': stringify(PRESETS[name]) },
});

describe('cluster watch against an in-process fake API server', () => {
  const api = new FakeApiServer(NS);
  const tc = new FakeTc();
  let reconciler: Reconciler;
  let watch: ClusterWatch;

  before(async () => {
    await api.start();
    api.put('nodes', node('mec-control-plane', 'cloud', 2, { 'node-role.kubernetes.io/control-plane': '' }));
    api.put('nodes', node('mec-ue', 'ue', 3));
    api.put('nodes', node('mec-edge', 'edge', 4));
    api.put('nodes', node('mec-cloud', 'cloud', 5));
    api.put('configmaps', profile('5g-mec'));
    api.put('configmaps', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'unrelated', namespace: NS },
    });
    reconciler = new Reconciler({
      nodeName: 'mec-ue',
      device: 'eth0',
      runner: tc,
      metrics: createAgentMetrics({ defaultMetrics: false }),
      publishStatus: statusPublisher(api.kubeConfig()),
      debounceMs: 20,
      retryMs: 100,
    });
    reconciler.setNetem({ available: true, checks: [], message: 'ok' });
    watch = watchCluster({ kc: api.kubeConfig(), inputs: reconciler, restartDelayMs: 200 });
    await watch.synced;
  });
  after(async () => {
    await watch?.stop();
    await reconciler?.shutdown().catch(() => undefined);
    await api.stop();
  });

  const filters = () => tc.filters.map((f) => f.match).sort();

  it('lists, applies and publishes its status by server-side apply', async () => {
    await eventually(() => tc.filters.length === 4, { timeoutMs: 5000, what: 'the tree' });
    assert.deepEqual(filters(), ['10.244.4.0/24', '10.244.5.0/24', '172.18.0.4/32', '172.18.0.5/32']);
    const applied = await eventually(() => api.applied.get('link-agent-status-mec-ue'), { timeoutMs: 5000 });
    const status = parseStatus(applied as never);
    assert.equal(status.profile, '5g-mec');
    assert.ok(api.requests.some((r) => r.includes('fieldSelector=metadata.name%3Dlink-profile')));
    assert.ok(api.requests.some((r) => r.startsWith('PATCH') && r.includes('fieldManager=mec-link-agent')));
  });

  it('follows a profile change and a node joining through the watch', async () => {
    tc.clear();
    api.put('configmaps', profile('far-cloud'));
    api.put('nodes', node('mec-cloud-2', 'cloud', 6));
    await eventually(() => tc.changes().some((c) => c.includes('delay 71ms')) && tc.filters.length === 6, {
      timeoutMs: 5000,
    });
  });

  it('a watch that expires with 410 Gone lists again and sees what changed meanwhile', async () => {
    const before = watch.lists();
    api.expireWatches();
    api.delete('nodes', 'mec-cloud-2');
    api.put('configmaps', profile('4g-lte'));
    await eventually(() => tc.filters.length === 4 && tc.changes().some((c) => c.includes('delay 23ms')), {
      timeoutMs: 5000,
      what: 'the deletion and the profile after the re-list',
    });
    const after = watch.lists();
    assert.ok(
      after.nodes > before.nodes && after.profile > before.profile,
      JSON.stringify({ before, after }),
    );
  });

  it('survives the API server going away and coming back', async () => {
    const before = watch.lists();
    const port = api.port;
    await api.stop();
    api.put('configmaps', profile('5g-wavelength')); // changed while the agent cannot see
    await new Promise((r) => setTimeout(r, 2500));
    await api.start(port);
    await eventually(() => tc.changes().some((c) => c.includes('delay 33ms')), {
      timeoutMs: 10_000,
      what: 'the change made while the API server was away',
    });
    assert.ok(watch.lists().profile > before.profile, JSON.stringify({ before, after: watch.lists() }));
  });

  it('after an outage a fresh informer lists the whole picture (a deletion made meanwhile) and none is left behind', async () => {
    api.put('nodes', node('mec-edge-2', 'edge', 7));
    await eventually(() => tc.filters.length === 6, { timeoutMs: 5000, what: 'the joining node' });
    const before = watch.lists();
    const port = api.port;
    await api.stop();
    // A server that lost its history (a watch from the old resourceVersion would get 410 Gone), and a node
    // gone while the agent cannot see.
    api.expireWatches();
    api.delete('nodes', 'mec-edge-2');
    await new Promise((r) => setTimeout(r, 1000));
    await api.start(port);
    await eventually(() => tc.filters.length === 4, {
      timeoutMs: 10_000,
      what: 'the deletion made while the API server was away',
    });
    assert.deepEqual(filters(), ['10.244.4.0/24', '10.244.5.0/24', '172.18.0.4/32', '172.18.0.5/32']);
    assert.ok(watch.lists().nodes > before.nodes, 'the nodes were listed again');
    // One watch per input: the informer that failed holds none.
    await eventually(() => api.watching('nodes') === 1 && api.watching('configmaps') === 1, {
      timeoutMs: 5000,
      what: 'exactly one watch of each kind',
    });
  });
});
