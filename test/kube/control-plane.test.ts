// Proves the control plane of hack/kube/ is the real thing, not a stub: Pod Security admission runs on the pods the
// controller manager makes from a Deployment, DaemonSets get pods once a Node exists, RBAC answers for a service
// account's own token, and clients survive an API server restart. Pods stay Pending (no kubelet) — by design.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { KubeConfig, V1DaemonSet, V1Deployment, V1PodSpec } from '@kubernetes/client-node';
import { AppsV1Api, AuthorizationV1Api, CoreV1Api, Watch } from '@kubernetes/client-node';
import type { ControlPlane } from '../support/kube.ts';
import {
  eventually,
  kubeBinaries,
  repoRoot,
  serverSideApply,
  startControlPlane,
  versions,
} from '../support/kube.ts';
import { skipUnless } from '../support/requirements.ts';

const execFileAsync = promisify(execFile);
const suffix = randomBytes(3).toString('hex');
const ns = `mec-test-restricted-${suffix}`;

// A pod template that meets Pod Security "restricted" (the image is never pulled: nothing runs pods here).
const restrictedPod: V1PodSpec = {
  securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
  containers: [
    {
      name: 'app',
      image: 'mec-testbed/services:dev',
      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
    },
  ],
};

function deployment(name: string, spec: V1PodSpec): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec },
    },
  };
}

describe('the control plane built from Go modules (hack/kube)', { skip: skipUnless(kubeBinaries) }, () => {
  let cp: ControlPlane;
  let kc: KubeConfig;

  before(async () => {
    // Short watch timeouts (apiServerArgs) so the watch-expiry test below ends in seconds, not 30–60 minutes.
    cp = await startControlPlane({ apiServerArgs: ['--min-request-timeout=3'] });
    kc = cp.kc;
    await serverSideApply(kc, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    });
  });
  after(async () => {
    await cp?.stop();
  });

  it('serves the pinned Kubernetes version', async () => {
    const { stdout } = await cp.kubectl(['version', '-o', 'json']);
    const v = JSON.parse(stdout) as { serverVersion: { gitVersion: string } };
    assert.equal(v.serverVersion.gitVersion, versions.KUBERNETES_VERSION);
  });

  it('turns a compliant Deployment into a ReplicaSet and a Pod in a restricted namespace', async () => {
    const applied = await serverSideApply(kc, deployment('compliant', restrictedPod));
    assert.equal(applied.metadata?.namespace, ns);
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const rs = await eventually(
      async () =>
        (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=compliant' })).items[0],
      { what: 'the ReplicaSet of Deployment compliant' },
    );
    assert.equal(rs.metadata?.ownerReferences?.[0]?.name, 'compliant');
    const pod = await eventually(
      async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=compliant' })).items[0],
      { what: 'the Pod of Deployment compliant' },
    );
    assert.equal(pod.metadata?.ownerReferences?.[0]?.name, rs.metadata?.name);
    // No kubelet and no scheduler: the pod is admitted and stored, and stays Pending.
    assert.equal(pod.status?.phase, 'Pending');
    // The ServiceAccount admission plugin and the token controller did their part.
    assert.equal(pod.spec?.serviceAccountName, 'default');
    assert.ok(
      pod.spec?.volumes?.some((v) => v.projected),
      'the service-account token volume is injected',
    );
  });

  it('re-applying the same Deployment as a server-side dry run shows no drift', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    // The controllers keep writing the Deployment's status (a new resourceVersion each time) while its pod is
    // pending, so compare a read and a dry run taken between two such writes; the generation (the spec) must
    // never move.
    await eventually(
      async () => {
        const before = await apps.readNamespacedDeployment({ name: 'compliant', namespace: ns });
        const dry = await serverSideApply(kc, deployment('compliant', restrictedPod), { dryRun: true });
        assert.equal(dry.metadata?.generation, before.metadata?.generation, 'a re-apply changed the spec');
        return dry.metadata?.resourceVersion === before.metadata?.resourceVersion;
      },
      { timeoutMs: 20_000, what: 'a dry-run re-apply that changes nothing' },
    );
  });

  it('refuses the pods of a non-compliant template: the ReplicaSet reports FailedCreate naming PodSecurity', async () => {
    const privileged: V1PodSpec = {
      containers: [{ name: 'app', image: 'mec-testbed/services:dev', securityContext: { privileged: true } }],
    };
    // The Deployment itself is admitted (Pod Security checks pods, and warns on templates) …
    await serverSideApply(kc, deployment('privileged', privileged));
    const apps = kc.makeApiClient(AppsV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    // … but the controller manager's pod creations are refused.
    const rs = await eventually(
      async () => {
        const r = (await apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=privileged' }))
          .items[0];
        return r?.status?.conditions?.some((c) => c.type === 'ReplicaFailure') ? r : undefined;
      },
      { what: 'a ReplicaFailure condition on the ReplicaSet of Deployment privileged' },
    );
    const failure = rs.status?.conditions?.find((c) => c.type === 'ReplicaFailure');
    assert.equal(failure?.reason, 'FailedCreate');
    assert.match(failure?.message ?? '', /violates PodSecurity "restricted:latest".*privileged/);
    const event = await eventually(
      async () =>
        (
          await core.listNamespacedEvent({
            namespace: ns,
            fieldSelector: `involvedObject.name=${rs.metadata?.name},reason=FailedCreate`,
          })
        ).items[0],
      { what: 'a FailedCreate event on the ReplicaSet' },
    );
    assert.match(event.message ?? '', /PodSecurity/);
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=privileged' });
    assert.equal(pods.items.length, 0);
  });

  it('makes DaemonSet pods once a Node exists', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const node = `mec-test-node-${suffix}`;
    await core.createNode({ body: { metadata: { name: node, labels: { 'mec-testbed.dev/site': 'edge' } } } });
    try {
      const ds: V1DaemonSet = {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'agent', namespace: ns },
        spec: {
          selector: { matchLabels: { app: 'agent' } },
          template: { metadata: { labels: { app: 'agent' } }, spec: restrictedPod },
        },
      };
      await serverSideApply(kc, ds);
      const pod = await eventually(
        async () => (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=agent' })).items[0],
        { what: 'the DaemonSet pod for the node' },
      );
      const terms =
        pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
      assert.deepEqual(terms?.[0]?.matchFields?.[0]?.values, [node]);
    } finally {
      await core.deleteNode({ name: node });
    }
  });

  it('answers a SelfSubjectAccessReview for a service account, with its own token and by impersonation', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'reader' } } });
    await serverSideApply(kc, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'configmap-reader', namespace: ns },
      rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch'] }],
    });
    await serverSideApply(kc, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'reader', namespace: ns },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'configmap-reader' },
      subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
    });
    const asToken = await cp.serviceAccountKubeConfig(ns, 'reader');
    const asImpersonated = cp.impersonating(`system:serviceaccount:${ns}:reader`);
    for (const [how, client] of [
      ['token', asToken],
      ['impersonation', asImpersonated],
    ] as const) {
      const authz = client.makeApiClient(AuthorizationV1Api);
      const can = async (verb: string, resource: string, namespace?: string) =>
        (
          await authz.createSelfSubjectAccessReview({
            body: { spec: { resourceAttributes: { verb, resource, namespace } } },
          })
        ).status?.allowed;
      assert.equal(await can('list', 'configmaps', ns), true, `${how}: list configmaps is granted`);
      assert.equal(await can('update', 'configmaps', ns), false, `${how}: update configmaps is not`);
      assert.equal(await can('get', 'secrets', ns), false, `${how}: secrets are not`);
      assert.equal(await can('list', 'nodes'), false, `${how}: cluster-scoped nodes are not`);
    }
    // And the API really enforces it, not just reviews it.
    await asToken.makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace: ns });
    await assert.rejects(
      asToken.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }),
      (err: Error) => /403|forbidden/i.test(err.message),
    );
  });

  it('writes a service-account kubeconfig for people (control-plane.sh sa-kubeconfig) that kubectl can use', async (t) => {
    if (!cp.stateDir) {
      t.skip('the reused control plane was not started by hack/kube/control-plane.sh');
      return;
    }
    const { stdout: path } = await execFileAsync(
      join(repoRoot, 'hack/kube/control-plane.sh'),
      ['sa-kubeconfig', ns, 'reader', join(cp.stateDir, 'reader.kubeconfig')],
      { env: { ...process.env, KUBE_STATE_DIR: cp.stateDir } },
    );
    const { stdout } = await cp.kubectl(['--kubeconfig', path.trim(), 'auth', 'whoami', '-o', 'json']);
    const who = JSON.parse(stdout) as { status: { userInfo: { username: string } } };
    assert.equal(who.status.userInfo.username, `system:serviceaccount:${ns}:reader`);
    const { stdout: can } = await cp
      .kubectl(['--kubeconfig', path.trim(), 'auth', 'can-i', 'list', 'configmaps'])
      .catch((e: Error) => ({ stdout: e.message }));
    assert.match(can, /^yes/m);
  });

  it('ends watches after --min-request-timeout, as informers must expect', async (t) => {
    if (process.env.KUBECONFIG_MEC_TEST) {
      t.skip('a reused control plane (KUBECONFIG_MEC_TEST) keeps its own --min-request-timeout');
      return;
    }
    const events: string[] = [];
    const ended = new Promise<unknown>((resolve) => {
      void new Watch(kc).watch(
        `/api/v1/namespaces/${ns}/configmaps`,
        {},
        (type) => events.push(type),
        (err) => resolve(err ?? 'closed'),
      );
    });
    // The server closes the watch after 3–6 s (randomised above the minimum); 120 s only guards a hang.
    let guard: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ended,
      new Promise((r) => {
        guard = setTimeout(() => r('still open'), 120_000);
      }),
    ]);
    clearTimeout(guard);
    assert.notEqual(outcome, 'still open');
    assert.ok(
      events.every((t) => t === 'ADDED'),
      'only the initial ADDED events arrived',
    );
  });

  it('keeps serving the same data after the API server restarts', async () => {
    await cp.restartApiServer();
    const apps = kc.makeApiClient(AppsV1Api);
    const d = await eventually(
      async () => apps.readNamespacedDeployment({ name: 'compliant', namespace: ns }),
      {
        what: 'the API server to answer again',
      },
    );
    assert.equal(d.metadata?.name, 'compliant');
  });
});
