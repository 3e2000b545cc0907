// The agent's reconcile loop against a real kube-apiserver (hack/kube, built from Go modules), with the agent's
// own RBAC from k8s/base/link-agent.yaml and a token of its service account, tc recorded by FakeTc:
// profile change applied within 5 s, an invalid profile kept out, a node joining, netem missing, the API server
// restarting, watches expiring. No kubelet here: the agent runs in this process, not in a pod.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1Node } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import {
  type ControlPlane,
  eventually,
  kubeBinaries,
  repoRoot,
  serverSideApply,
  startControlPlane,
} from '../../test/support/kube.ts';
import { need, root, skipUnless } from '../../test/support/requirements.ts';
import { PRESETS } from '../topology/index.ts';
import { type ClusterWatch, watchCluster } from './cluster.ts';
import { FakeTc } from './fake-tc.ts';
import { createAgentMetrics } from './metrics.ts';
import type { ProbeResult } from './probe.ts';
import { Reconciler } from './reconcile.ts';
import { ExecRunner, observe } from './runner.ts';
import { type AgentStatus, parseStatus, statusPublisher } from './status.ts';

const NS = 'mec-testbed-system';

function node(name: string, site: string | undefined, n: number, controlPlane = false): V1Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        ...(site ? { 'mec-testbed.dev/site': site } : {}),
        ...(controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
    },
    spec: { podCIDR: `10.244.${n}.0/24`, podCIDRs: [`10.244.${n}.0/24`] },
    status: { addresses: [{ type: 'InternalIP', address: `172.18.0.${n}` }] },
  };
}

const profileMap = (doc: unknown) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'link-profile', namespace: NS },
  data: { 'profile.yaml': typeof doc === 'string' ? doc : stringify(doc) },
});

interface Agent {
  tc: FakeTc;
  reconciler: Reconciler;
  watch: ClusterWatch;
}

function startAgent(kc: KubeConfig, nodeName: string, probe: ProbeResult): Agent {
  const tc = new FakeTc();
  tc.netem = probe.available;
  const reconciler = new Reconciler({
    nodeName,
    device: 'eth0',
    runner: tc,
    metrics: createAgentMetrics({ defaultMetrics: false }),
    publishStatus: statusPublisher(kc),
    debounceMs: 50,
    retryMs: 200,
  });
  reconciler.setNetem(probe);
  const watch = watchCluster({ kc, inputs: reconciler, restartDelayMs: 300 });
  return { tc, reconciler, watch };
}

describe('link agent against a real API server', { skip: skipUnless(kubeBinaries) }, () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let agentKc: KubeConfig;
  const agents: Agent[] = [];
  const status = async (nodeName: string): Promise<AgentStatus | undefined> => {
    try {
      return parseStatus(
        await core.readNamespacedConfigMap({ name: `link-agent-status-${nodeName}`, namespace: NS }),
      );
    } catch {
      return undefined;
    }
  };

  before(async () => {
    // Short server-side watch timeouts (2-4 s): watches end often and must be reopened without losing events.
    cp = await startControlPlane({ apiServerArgs: ['--min-request-timeout=2'] });
    core = cp.kc.makeApiClient(CoreV1Api);
    await serverSideApply(cp.kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    // The agent's RBAC exactly as the manifests declare it.
    const manifest = readFileSync(join(repoRoot, 'k8s/base/link-agent.yaml'), 'utf8');
    for (const doc of parseAllDocuments(manifest)) {
      const obj = doc.toJS() as KubernetesObject | null;
      if (
        obj &&
        ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding'].includes(
          obj.kind ?? '',
        )
      )
        await serverSideApply(cp.kc, obj);
    }
    for (const n of [
      node('mec-control-plane', 'cloud', 2, true),
      node('mec-ue', 'ue', 3),
      node('mec-edge', 'edge', 4),
      node('mec-cloud', 'cloud', 5),
      node('mec-unlabelled', undefined, 9),
    ])
      await core.createNode({ body: n });
    await serverSideApply(cp.kc, profileMap(PRESETS['5g-mec']));
    agentKc = await cp.serviceAccountKubeConfig(NS, 'link-agent');
  });
  after(async () => {
    for (const a of agents) {
      await a.watch.stop();
      await a.reconciler.shutdown().catch(() => undefined);
    }
    await cp?.stop();
  });

  it('applies the profile, publishes its status with the agent own RBAC, follows changes', async (t) => {
    const agent = startAgent(agentKc, 'mec-ue', { available: true, checks: [], message: 'ok' });
    agents.push(agent);
    const { tc } = agent;
    const first = await eventually(
      async () => {
        const s = await status('mec-ue');
        return s?.inSync && s.profile === '5g-mec' && s.plan.length === 2 ? s : undefined;
      },
      { timeoutMs: 20_000, what: 'the first status' },
    );
    assert.equal(first.site, 'ue');
    assert.deepEqual(
      tc.filters.map((f) => f.match).sort(),
      ['10.244.4.0/24', '10.244.5.0/24', '172.18.0.4/32', '172.18.0.5/32'],
      'edge and cloud workers; the control plane and the unlabelled node are left alone',
    );

    // Profile change: the new netem spec is on the device within 5 s.
    tc.clear();
    const changedAt = Date.now();
    await serverSideApply(cp.kc, profileMap(PRESETS['far-cloud']));
    await eventually(() => tc.changes().some((c) => c.includes('delay 71ms')), {
      timeoutMs: 5000,
      intervalMs: 20,
      what: 'the far-cloud netem leaf',
    });
    t.diagnostic(`profile change on the device ${Date.now() - changedAt} ms after the apply was sent`);
    await eventually(async () => (await status('mec-ue'))?.profile === 'far-cloud', { timeoutMs: 5000 });

    // An invalid profile is refused: the device and the status keep far-cloud, the problems are shown.
    tc.clear();
    await serverSideApply(
      cp.kc,
      profileMap(stringify(PRESETS['4g-lte']).replace('rate: 1Gbit', 'rate: fast')),
    );
    const refused = await eventually(
      async () => {
        const s = await status('mec-ue');
        return s && s.profileProblems.length > 0 ? s : undefined;
      },
      { timeoutMs: 5000, what: 'the refusal in the status' },
    );
    assert.equal(refused.profile, 'far-cloud');
    assert.match(refused.profileProblems.join('\n'), /links\.edge-cloud\.rate: "fast" is not a rate/);
    assert.deepEqual(tc.changes(), []);

    // A node joining: only its filters are added.
    await core.createNode({ body: node('mec-cloud-2', 'cloud', 6) });
    await eventually(() => tc.changes().length === 2, { timeoutMs: 5000, what: 'the new node filters' });
    assert.deepEqual(tc.changes(), [
      'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 10.244.6.0/24 flowid ec:3',
      'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 172.18.0.6/32 flowid ec:3',
    ]);

    // Watches end (the API server's 2-4 s timeout here) and are reopened: a change after several still arrives.
    await new Promise((r) => setTimeout(r, 5000));
    tc.clear();
    await serverSideApply(cp.kc, profileMap(PRESETS['5g-mec']));
    await eventually(() => tc.changes().some((c) => c.includes('delay 15ms')), { timeoutMs: 5000 });

    // The API server restarts: the informers report the error, list again after a pause, and follow changes.
    const listsBefore = agent.watch.lists();
    await cp.restartApiServer();
    tc.clear();
    await eventually(
      async () => {
        await serverSideApply(cp.kc, profileMap(PRESETS['4g-lte']));
        return tc.changes().some((c) => c.includes('delay 23ms'));
      },
      { timeoutMs: 60_000, intervalMs: 1000, what: 'a change after the API server restart' },
    );
    const listsAfter = agent.watch.lists();
    assert.ok(
      listsAfter.nodes > listsBefore.nodes,
      `nodes re-listed (${JSON.stringify({ listsBefore, listsAfter })})`,
    );
    assert.ok(listsAfter.profile > listsBefore.profile, 'profile re-listed');
    await eventually(async () => (await status('mec-ue'))?.profile === '4g-lte', { timeoutMs: 10_000 });
  });

  it('end to end with the real tc in a namespace (pfifo leaves): applied, followed, removed on shutdown', async (t) => {
    if (!need(t, root)) return;
    const ns = `mec-test-agent-e2e-${randomBytes(3).toString('hex')}`;
    const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' });
    ip('netns', 'add', ns);
    try {
      ip('-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      const runner = new ExecRunner({ netns: ns });
      const reconciler = new Reconciler({
        nodeName: 'mec-cloud',
        device: 'eth0',
        runner,
        leaf: 'pfifo',
        metrics: createAgentMetrics({ defaultMetrics: false }),
        publishStatus: statusPublisher(agentKc),
        debounceMs: 50,
      });
      reconciler.setNetem({ available: true, checks: [], message: 'pfifo stands in for netem here' });
      const watch = watchCluster({ kc: agentKc, inputs: reconciler, restartDelayMs: 300 });
      try {
        const seen = await eventually(
          async () => {
            const o = await observe(runner, 'eth0');
            return o.filters.length >= 4 ? o : undefined;
          },
          { timeoutMs: 20_000, what: 'the tree on the namespace eth0' },
        );
        assert.deepEqual(seen.root, { kind: 'htb', handle: 'ec:' });
        assert.deepEqual([...seen.classes.keys()].sort(), ['ec:1', 'ec:14', 'ec:2']);
        assert.ok(
          seen.filters.some((f) => f.match === '10.244.3.0/24' && f.flowid === 'ec:1'),
          'ue pods → ec:1',
        );
        const s = await eventually(
          async () => ((await status('mec-cloud'))?.inSync ? status('mec-cloud') : undefined),
          {
            timeoutMs: 10_000,
          },
        );
        assert.equal(s?.site, 'cloud');
      } finally {
        await watch.stop();
        await reconciler.shutdown();
      }
      const after = await observe(runner, 'eth0');
      assert.equal(after.root?.handle, '0:', 'shutdown removed the tree, the kernel default is back');
    } finally {
      ip('netns', 'del', ns);
    }
  });

  it('netem missing: the status ConfigMap says so, with the fix, and nothing is shaped', async () => {
    const agent = startAgent(agentKc, 'mec-edge', {
      available: false,
      checks: [{ check: 'netem', ok: false, error: 'Error: Specified qdisc kind is unknown.' }],
      cause: 'module-missing',
      message: 'the netem backend cannot run here: netem failed',
      fix: 'The kernel has no sch_netem … `sudo modprobe sch_netem` …',
    });
    agents.push(agent);
    const s = await eventually(
      async () => {
        const st = await status('mec-edge');
        return st?.netem.available === false ? st : undefined;
      },
      { timeoutMs: 20_000, what: 'the netem-missing status' },
    );
    assert.equal(s.netem.cause, 'module-missing');
    assert.match(s.netem.fix ?? '', /modprobe sch_netem/);
    assert.match(s.idleReason ?? '', /^netem unavailable/);
    const cm = await core.readNamespacedConfigMap({ name: 'link-agent-status-mec-edge', namespace: NS });
    assert.match(cm.data?.summary ?? '', /^netem unavailable on mec-edge/);
    assert.equal(cm.metadata?.ownerReferences?.[0]?.kind, 'Node', 'the status goes with its node');
    assert.deepEqual(agent.tc.changes(), []);
  });
});
