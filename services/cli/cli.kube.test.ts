// The CLI against a real kube-apiserver + kube-controller-manager (test/support/kube.ts) holding the rendered
// kind overlay. No kubelet or scheduler runs, so the test plays both: it binds pods to the site nodes and sets
// their status, and the real controllers carry readiness up to the ReplicaSets, Deployments and DaemonSet that
// `wait` reads. The link agents' status is published with the agent's own ServiceAccount token (its RBAC).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { renderText } from '../../k8s/render.ts';
import { PREDICTIONS } from '../../loadtest/lib/predictions.gen.ts';
import { imageRef } from '../../test/support/images.ts';
import { type ControlPlane, eventually, kubeBinaries, startControlPlane } from '../../test/support/kube.ts';
import { commandWorks, docker, need, skipUnless } from '../../test/support/requirements.ts';
import { type AgentStatus, statusPublisher } from '../link-agent/status.ts';
import { type Cluster, connect, ensureGrafanaSecret, readConfigMap, UserError } from './kube.ts';
import { PROFILE_CONFIGMAP } from './link-profile.ts';
import { loadPrediction, main, netemCheck, status, switchProfile, waitReady } from './main.ts';

const SITES = ['ue', 'edge', 'cloud'];
const node = (site: string) => `mec-test-${site}`;

describe('the CLI on a real API server', { skip: skipUnless(kubeBinaries), timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let c: Cluster;
  let dir: string;
  const savedKubeconfig = process.env.KUBECONFIG;

  before(async () => {
    cp = await startControlPlane();
    dir = mkdtempSync(join(tmpdir(), 'mec-test-cli-'));
    const core = cp.kc.makeApiClient(CoreV1Api);
    for (const site of SITES) {
      await core.createNode({
        body: { metadata: { name: node(site), labels: { 'mec-testbed.dev/site': site } } },
      });
    }
    const manifests = join(dir, 'kind.yaml');
    writeFileSync(manifests, renderText('k8s/overlays/kind'));
    await cp.kubectl([
      'apply',
      '--server-side',
      '--field-manager=mec-testbed',
      '--force-conflicts',
      '-f',
      manifests,
    ]);
    process.env.KUBECONFIG = cp.kubeconfigPath;
    c = connect();
  });
  after(async () => {
    if (savedKubeconfig === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = savedKubeconfig;
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Plays scheduler and kubelet: binds each unbound pod to its site's node and reports it running and ready. */
  async function runEveryPod(): Promise<number> {
    const core = cp.kc.makeApiClient(CoreV1Api);
    let changed = 0;
    for (const namespace of ['mec-testbed', 'mec-testbed-system']) {
      for (const pod of (await core.listNamespacedPod({ namespace })).items) {
        const name = pod.metadata?.name ?? '';
        if (!pod.spec?.nodeName) {
          const daemonTarget =
            pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
              ?.nodeSelectorTerms?.[0]?.matchFields?.[0]?.values?.[0];
          const site = pod.spec?.nodeSelector?.['mec-testbed.dev/site'];
          // Grafana and Prometheus go to the control plane in the kind overlay; any node will do here.
          const target = daemonTarget ?? node(site ?? 'cloud');
          await core.createNamespacedPodBinding({
            name,
            namespace,
            body: { metadata: { name }, target: { kind: 'Node', name: target } },
          });
        }
        const fresh = await core.readNamespacedPod({ name, namespace });
        if (fresh.status?.phase === 'Running') continue;
        const now = new Date();
        const ready: V1Pod = {
          ...fresh,
          status: {
            phase: 'Running',
            startTime: now,
            conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({
              type,
              status: 'True',
              lastTransitionTime: now,
            })),
            containerStatuses: (fresh.spec?.containers ?? []).map((ctr) => ({
              name: ctr.name,
              image: ctr.image ?? '',
              imageID: '',
              ready: true,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: now } },
            })),
          },
        };
        await core.replaceNamespacedPodStatus({ name, namespace, body: ready });
        changed++;
      }
    }
    return changed;
  }

  it('wait: times out naming every unready workload, its pods and why', async () => {
    await eventually(
      async () => (await c.core.listNamespacedPod({ namespace: 'mec-testbed' })).items.length >= 5,
      {
        timeoutMs: 90_000,
        what: 'the controller manager to create the pods',
      },
    );
    await assert.rejects(waitReady(c, 2, 1), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^Timed out after 2s: \d+ workload\(s\) not ready\./);
      assert.match(err.message, /Deployment mec-testbed\/edge: 0\/1 ready/);
      assert.match(err.message, /DaemonSet mec-testbed-system\/link-agent: 0\/3 ready/);
      // No scheduler runs here: exactly what a user sees when pods are never placed.
      assert.match(err.message, /pod edge-[a-z0-9-]+ on \(none\): Pending: not scheduled to a node yet/);
      return true;
    });
  });

  it('wait: succeeds once the controllers see every pod ready', async () => {
    let done = false;
    const kubelet = (async () => {
      while (!done) {
        await runEveryPod().catch(() => 0);
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    try {
      await waitReady(c, 120, 1);
    } finally {
      done = true;
      await kubelet;
    }
    const ds = await c.apps.readNamespacedDaemonSet({ name: 'link-agent', namespace: 'mec-testbed-system' });
    assert.equal(ds.status?.numberReady, SITES.length);
  });

  it("status: nodes and sites, pods, each agent's applied profile and netem verdict, URLs", async () => {
    const base: Omit<AgentStatus, 'node' | 'site' | 'netem'> = {
      backend: 'netem',
      mode: 'netem',
      inSync: true,
      plan: [],
      warnings: [],
      profileProblems: [],
      updatedAt: new Date().toISOString(),
    };
    // Published as the agent does it, with its own ServiceAccount: this also proves its RBAC suffices.
    const publish = statusPublisher(await cp.serviceAccountKubeConfig('mec-testbed-system', 'link-agent'));
    await publish({
      ...base,
      node: node('ue'),
      site: 'ue',
      profile: '5g-mec',
      appliedHash: 'abc',
      lastAppliedAt: '2026-11-25T02:00:00Z',
      netem: { available: true, message: 'netem works' },
    });
    await publish({
      ...base,
      node: node('edge'),
      site: 'edge',
      inSync: false,
      idleReason: 'netem unavailable',
      netem: {
        available: false,
        cause: 'module-missing',
        message: 'the kernel has no sch_netem',
        fix: 'sudo modprobe sch_netem',
      },
    });

    const text = await status(c);
    assert.match(text, new RegExp(`Cluster: ${c.server.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    for (const site of SITES) assert.match(text, new RegExp(`${node(site)}\\s+${site}\\s`));
    assert.match(text, /mec-testbed\s+edge-[a-z0-9-]+\s+mec-test-edge\s+yes/);
    assert.match(text, /desired: 5g-mec/);
    assert.match(text, /mec-test-ue\s+ue\s+5g-mec\s+netem\s+works\s+2026-11-25T02:00:00Z/);
    assert.match(text, /mec-test-edge\s+edge\s+-\s+netem\s+MISSING/);
    assert.match(text, /mec-test-edge: the kernel has no sch_netem \(fix: sudo modprobe sch_netem\)/);
    assert.match(text, /make up EMULATION=proxy \(it replaces the netem backend in place\)/);
    assert.match(text, /Grafana\s+http:\/\/127\.0\.0\.1:3000/);
    assert.match(text, /Prometheus\s+http:\/\/127\.0\.0\.1:9090/);
  });

  it('netem: says which node lacks netem and what to do', async () => {
    const r = await netemCheck(c, 3);
    assert.equal(r.ok, false);
    assert.match(r.message, /mec-test-edge: the kernel has no sch_netem/);
  });

  it('profile: a valid one is applied, an invalid one refused and the old one kept', async () => {
    assert.match(
      await switchProfile(c, 'far-cloud'),
      /^Link profile 5g-mec -> far-cloud \(from preset far-cloud\)/,
    );
    const applied = await readConfigMap(c, PROFILE_CONFIGMAP.namespace, PROFILE_CONFIGMAP.name);
    assert.equal(applied?.metadata?.annotations?.['mec-testbed.dev/profile'], 'far-cloud');
    assert.match(applied?.data?.[PROFILE_CONFIGMAP.key] ?? '', /latency: 65ms/);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: broken\nlinks:\n  ue-edge: { latency: -3ms }\n',
    );
    for (const attempt of [bad, 'no-such-preset', join(dir, 'missing.yaml')]) {
      await assert.rejects(switchProfile(c, attempt), (err: unknown) => {
        assert.ok(err instanceof UserError, String(err));
        assert.match(err.message, /invalid link profile/);
        assert.match(err.message, /Refused: the cluster keeps its current profile \(far-cloud\)\./);
        return true;
      });
    }
    const kept = await readConfigMap(c, PROFILE_CONFIGMAP.namespace, PROFILE_CONFIGMAP.name);
    assert.equal(kept?.metadata?.resourceVersion, applied?.metadata?.resourceVersion, 'not written at all');

    // A re-apply of the manifests (make up) takes the profile back to the generated default, then make up
    // applies PROFILE again: the CLI's field manager and kubectl's must not conflict.
    await cp.kubectl([
      'apply',
      '--server-side',
      '--field-manager=mec-testbed',
      '--force-conflicts',
      '-f',
      join(dir, 'kind.yaml'),
    ]);
    assert.match(await switchProfile(c, 'congested-backhaul'), /5g-mec -> congested-backhaul/);
  });

  it('prediction: the profile in force, as make load judges a run', async () => {
    await switchProfile(c, '4g-lte');
    assert.deepEqual(await loadPrediction(() => c), PREDICTIONS['4g-lte']);
    const lab = join(dir, 'lab.yaml');
    writeFileSync(
      lab,
      'apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: my-lab\nlinks:\n  ue-edge: { latency: 5ms }\n  edge-cloud: { latency: 20ms }\n',
    );
    await switchProfile(c, lab);
    const inForce = await loadPrediction(() => c);
    assert.equal(inForce.profile, 'my-lab');
    assert.deepEqual(inForce.roundTripSeconds, { edge: 0.01, cloud: 0.05 });
  });

  it('ensure-secrets: creates the Grafana admin password once, then keeps it', async () => {
    assert.equal(await ensureGrafanaSecret(c), true);
    const first = await c.core.readNamespacedSecret({ name: 'grafana-admin', namespace: 'mec-testbed' });
    assert.ok((first.data?.['admin-password'] ?? '').length >= 20);
    assert.equal(await ensureGrafanaSecret(c), false);
    const second = await c.core.readNamespacedSecret({ name: 'grafana-admin', namespace: 'mec-testbed' });
    assert.equal(second.data?.['admin-password'], first.data?.['admin-password']);
  });

  it('runs inside the link-agent image for machines without Node 24 (make up CLI_RUNTIME=docker)', (t) => {
    if (!need(t, docker)) return;
    const image = imageRef('link-agent');
    if (
      !need(
        t,
        commandWorks('docker', ['image', 'inspect', image], `the ${image} image (make link-agent-image)`),
      )
    )
      return;
    const repo = new URL('../../', import.meta.url).pathname;
    // `false` as kind: no kind cluster, so the script uses the host network and KUBECONFIG (this control plane).
    const r = spawnSync(
      join(repo, 'hack/testbed/cli-in-docker.sh'),
      ['false', 'mec-testbed', image, 'status'],
      {
        env: { ...process.env, KUBECONFIG: cp.kubeconfigPath },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /desired: [a-z0-9-]+ \(ConfigMap mec-testbed-system\/link-profile\)/);
    assert.match(r.stdout, /mec-test-ue\s+ue\s+5g-mec\s+netem\s+works/);
  });

  it('every command says clearly when no cluster is reachable', async () => {
    const unreachable = join(dir, 'unreachable.kubeconfig');
    writeFileSync(
      unreachable,
      'apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: x}}]\ncontexts: [{name: kind-mec-testbed, context: {cluster: c, user: u}}]\ncurrent-context: kind-mec-testbed\n',
    );
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = unreachable;
    const writes: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((chunk: string) => writes.push(String(chunk)) > 0) as typeof process.stderr.write;
    try {
      for (const command of [['status'], ['wait', '--timeout', '5'], ['profile', 'far-cloud']]) {
        writes.length = 0;
        assert.equal(await main(command), 3, command.join(' '));
        assert.match(
          writes.join(''),
          /No Kubernetes cluster reachable at https:\/\/127\.0\.0\.1:1 \(context "kind-mec-testbed"/,
        );
      }
    } finally {
      process.stderr.write = write;
      process.env.KUBECONFIG = saved;
    }
  });
});
