// The reconcile loop driven in-process: inputs handed over as the informers would, tc recorded by FakeTc.
// The same behaviours against a real API server are in cluster.test.ts.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { eventually } from '../../test/support/kube.ts';
import { PRESETS } from '../topology/index.ts';
import { FakeTc } from './fake-tc.ts';
import { createAgentMetrics } from './metrics.ts';
import type { NodeView } from './nodes.ts';
import type { ProbeResult } from './probe.ts';
import { Reconciler } from './reconcile.ts';
import type { AgentStatus } from './status.ts';

const NETEM_OK: ProbeResult = {
  available: true,
  checks: [],
  message: 'the kernel can run htb, u32, tbf and netem',
};
const NETEM_MISSING: ProbeResult = {
  available: false,
  checks: [{ check: 'netem', ok: false, error: 'Error: Specified qdisc kind is unknown.' }],
  cause: 'module-missing',
  message: 'the netem backend cannot run here: netem failed',
  fix: 'The kernel has no sch_netem … `sudo modprobe sch_netem` …',
};

const profileMap = (doc: unknown): V1ConfigMap => ({
  metadata: { name: 'link-profile', namespace: 'mec-testbed-system' },
  data: { 'profile.yaml': typeof doc === 'string' ? doc : stringify(doc) },
});
const node = (name: string, site: string, n: number, extra: Partial<NodeView> = {}): NodeView => ({
  name,
  site,
  address: `172.18.0.${n}`,
  podCIDRs: [`10.244.${n}.0/24`],
  controlPlane: false,
  ...extra,
});
const NODES = [node('w-ue', 'ue', 3), node('w-edge', 'edge', 4), node('w-cloud', 'cloud', 5)];

let current: Reconciler | undefined;
afterEach(async () => {
  await current?.shutdown().catch(() => undefined);
  current = undefined;
});

function setup(nodeName = 'w-ue', mode: 'netem' | 'off' = 'netem') {
  const tc = new FakeTc();
  const metrics = createAgentMetrics({ defaultMetrics: false });
  const published: AgentStatus[] = [];
  const r = new Reconciler({
    nodeName,
    device: 'eth0',
    runner: tc,
    metrics,
    publishStatus: async (s) => {
      published.push(s);
    },
    debounceMs: 20,
    mode,
  });
  current = r;
  const last = () => published.at(-1);
  return { tc, metrics, published, r, last };
}

describe('reconcile loop (in-process)', () => {
  it('does nothing before it has the probe, the profile and the nodes', async () => {
    const { tc, r } = setup();
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    r.setNetem(NETEM_OK);
    await r.reconcile();
    assert.deepEqual(tc.changes(), [], 'the nodes have not been listed yet: a pass now would tear down');
  });

  it('applies the plan, then nothing when nothing changed; a profile change re-applies within 5 s', async () => {
    const { tc, r, last, metrics } = setup();
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.inSync && last()?.profile === '5g-mec', {
      timeoutMs: 5000,
      what: 'first apply',
    });
    assert.equal(tc.changes().length, 10, 'root, uplink class, 2 site classes, 2 leaves, 4 filters');
    assert.equal(tc.changes()[0], 'tc qdisc replace dev eth0 root handle ec: htb');

    tc.clear();
    await r.reconcile(true); // forced read-back: the device matches
    assert.deepEqual(tc.changes(), []);

    r.setProfileConfigMap(profileMap(PRESETS['far-cloud']));
    await eventually(() => last()?.profile === 'far-cloud' && last()?.inSync, {
      timeoutMs: 5000,
      what: 'far-cloud',
    });
    assert.deepEqual(tc.changes(), [
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 71ms 2828us distribution normal loss random 0.1999% rate 80mbit',
    ]);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /mec_link_configured_latency_seconds\{link="ue-edge\+edge-cloud",from="ue",to="cloud",backend="netem"\} 0\.071/,
    );
    assert.match(text, /mec_link_profile_info\{profile="far-cloud",backend="netem"\} 1/);
    // far-cloud: 12 ms to the edge, 142 ms to the cloud, the model's arithmetic exported as is.
    assert.match(
      text,
      /mec_link_predicted_round_trip_seconds\{target_site="cloud",backend="netem"\} 0\.142\n/,
    );
    assert.match(text, /mec_link_predicted_edge_reduction_ratio\{backend="netem"\} 0\.915492957746\n/);
    assert.match(
      text,
      /mec_link_configured_rate_bytes_per_second\{link="ue-edge",from="ue",to="edge",backend="netem"\} 10000000/,
    );
    assert.doesNotMatch(text, /profile="5g-mec"/);
  });

  it('keeps an invalid profile out: the old one stays applied, the problems are in the status', async () => {
    const { tc, r, last } = setup();
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.inSync, { timeoutMs: 5000, what: 'first apply' });
    const hash = last()?.appliedHash;
    tc.clear();
    const broken = stringify(PRESETS['5g-mec']).replace('latency: 9ms', 'latency: 9');
    r.setProfileConfigMap(profileMap(broken));
    await eventually(() => (last()?.profileProblems.length ?? 0) > 0, { timeoutMs: 5000, what: 'problems' });
    const s = last();
    assert.equal(s?.profile, '5g-mec');
    assert.equal(s?.appliedHash, hash);
    assert.match(s?.profileProblems[0] ?? '', /links\.edge-cloud\.latency: 9 is not a duration/);
    assert.match(s?.profileProblems.at(-1) ?? '', /keeping profile "5g-mec"/);
    assert.deepEqual(tc.changes(), []);

    r.setProfileConfigMap(profileMap('kind: [unclosed'));
    await eventually(() => /not valid YAML/.test(last()?.profileProblems[0] ?? ''), { timeoutMs: 5000 });
    assert.deepEqual(tc.changes(), []);
  });

  it('a node joining gets its filters, a node leaving loses them, nothing else changes', async () => {
    const { tc, r, last } = setup();
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.inSync, { timeoutMs: 5000 });
    tc.clear();
    r.setNodes([...NODES, node('w-cloud-2', 'cloud', 6)]);
    await eventually(() => tc.changes().length === 2, { timeoutMs: 5000, what: 'filters for the new node' });
    assert.deepEqual(tc.changes(), [
      'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 10.244.6.0/24 flowid ec:3',
      'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 172.18.0.6/32 flowid ec:3',
    ]);
    tc.clear();
    r.setNodes(NODES);
    await eventually(() => tc.changes().length === 2, { timeoutMs: 5000, what: 'filters removed' });
    assert.ok(
      tc.changes().every((c) => /^tc filter del dev eth0 parent ec: protocol ip prio 3 handle 802::/.test(c)),
    );
    assert.equal(tc.filters.length, 4);
  });

  it('netem missing: nothing on the device, the status says so with the fix, the gauge is 0', async () => {
    const { tc, r, last, metrics } = setup();
    tc.netem = false;
    r.setNetem(NETEM_MISSING);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.netem.available === false, { timeoutMs: 5000 });
    const s = last();
    assert.equal(s?.netem.cause, 'module-missing');
    assert.match(s?.netem.fix ?? '', /modprobe sch_netem/);
    assert.match(s?.idleReason ?? '', /^netem unavailable/);
    assert.deepEqual(s?.plan, []);
    assert.deepEqual(tc.changes(), []);
    const text = await metrics.registry.metrics();
    assert.match(text, /mec_link_netem_available\{node="w-ue"\} 0/);
    assert.doesNotMatch(text, /mec_link_configured_latency_seconds\{/);
  });

  it('a failed tc command is reported, counted and retried', async () => {
    const { tc, r, last, metrics } = setup();
    tc.failNext = { match: /parent ec:3 handle 103/, stderr: 'RTNETLINK answers: No buffer space available' };
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.lastError, { timeoutMs: 5000, what: 'the error in the status' });
    assert.match(last()?.lastError?.message ?? '', /No buffer space available/);
    assert.match(await metrics.registry.metrics(), /mec_link_agent_apply_errors_total 1/);
    await eventually(() => last()?.inSync && !last()?.lastError, { timeoutMs: 5000, what: 'the retry' });
    assert.equal(tc.leaves.get('ec:3')?.kind, 'netem');
  });

  it('leaves control-plane and unlabelled nodes alone', async () => {
    const { tc, r, last } = setup('cp');
    r.setNetem(NETEM_OK);
    r.setNodes([...NODES, node('cp', 'cloud', 2, { controlPlane: true })]);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.idleReason, { timeoutMs: 5000 });
    assert.match(last()?.idleReason ?? '', /control-plane node/);
    assert.deepEqual(tc.changes(), []);

    const other = setup('nobody');
    other.r.setNetem(NETEM_OK);
    other.r.setNodes(NODES);
    other.r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => other.last()?.idleReason, { timeoutMs: 5000 });
    assert.match(other.last()?.idleReason ?? '', /node nobody has no mec-testbed\.dev\/site label/);
    await other.r.shutdown();
  });

  it('removes the tree when the node loses its label, and only its own tree on shutdown', async () => {
    const { tc, r, last } = setup();
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.inSync && last()?.plan.length === 2, { timeoutMs: 5000 });
    tc.clear();
    r.setNodes(NODES.filter((n) => n.name !== 'w-ue'));
    await eventually(() => tc.changes().length === 1, { timeoutMs: 5000 });
    assert.deepEqual(tc.changes(), ['tc qdisc del dev eth0 root']);

    r.setNodes(NODES);
    await eventually(() => tc.root.handle === 'ec:' && tc.filters.length === 4, { timeoutMs: 5000 });
    tc.clear();
    assert.deepEqual(await r.shutdown(), [['qdisc', 'del', 'dev', 'eth0', 'root']]);
    assert.deepEqual(tc.changes(), ['tc qdisc del dev eth0 root']);
    assert.equal(tc.root.handle, '0:');
    current = undefined;
  });

  it('LINK_BACKEND=off: shapes nothing and removes a tree an earlier agent left', async () => {
    const { tc, r, last } = setup('w-ue', 'off');
    await tc.run('tc', ['qdisc', 'replace', 'dev', 'eth0', 'root', 'handle', 'ec:', 'htb']);
    tc.clear();
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.idleReason, { timeoutMs: 5000 });
    assert.equal(last()?.mode, 'off');
    assert.match(last()?.idleReason ?? '', /LINK_BACKEND=off/);
    assert.deepEqual(tc.changes(), ['tc qdisc del dev eth0 root']);
    assert.ok(r.readiness().ok);
  });

  it('never touches a root qdisc someone else put on the device', async () => {
    const { tc, r, last } = setup();
    tc.root = { kind: 'tbf', handle: '8001:' };
    r.setNetem(NETEM_OK);
    r.setNodes(NODES);
    r.setProfileConfigMap(profileMap(PRESETS['5g-mec']));
    await eventually(() => last()?.lastError, { timeoutMs: 5000 });
    assert.match(
      last()?.lastError?.message ?? '',
      /root qdisc "tbf" with handle 8001: that the link agent did not create/,
    );
    assert.deepEqual(tc.changes(), []);
    assert.deepEqual(await r.shutdown(), []);
    current = undefined;
  });
});
