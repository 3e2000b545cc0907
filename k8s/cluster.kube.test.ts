// Every overlay against a real kube-apiserver + kube-controller-manager (test/support/kube.ts; no kubelet, so no
// pod runs): server-side apply exactly as `make up` does it, no drift on re-apply, Pod Security admission on the
// pods the controllers create, and least-privilege RBAC per ServiceAccount (SubjectAccessReview).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  CoreV1Api,
  type V1Pod,
  type V1PodSpec,
} from '@kubernetes/client-node';
import { type ControlPlane, eventually, kubeBinaries, startControlPlane } from '../test/support/kube.ts';
import { skipUnless } from '../test/support/requirements.ts';
import { podSpecOf } from './policy.ts';
import { type Manifest, OVERLAYS, renderOverlay, renderText } from './render.ts';

const SITES = ['ue', 'edge', 'cloud'];

describe('overlays on a real API server', { skip: skipUnless(kubeBinaries), timeout: 600_000 }, () => {
  let cp: ControlPlane;
  let dir: string;
  const files = new Map<string, string>();
  before(async () => {
    cp = await startControlPlane();
    dir = mkdtempSync(join(tmpdir(), 'mec-test-overlays-'));
    for (const overlay of OVERLAYS) {
      const file = join(dir, `${overlay}.yaml`);
      writeFileSync(file, renderText(join('k8s/overlays', overlay)));
      files.set(overlay, file);
    }
    // Site nodes, as kind's workers would register them (no kubelet here): the DaemonSet controller needs them.
    const core = cp.kc.makeApiClient(CoreV1Api);
    for (const site of SITES) {
      await core.createNode({
        body: { metadata: { name: `mec-test-${site}`, labels: { 'mec-testbed.dev/site': site } } },
      });
    }
    await core.createNode({ body: { metadata: { name: 'mec-test-control-plane' } } });
  });
  after(async () => {
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const apply = (overlay: string, extra: string[] = []) =>
    cp.kubectl([
      'apply',
      '--server-side',
      '--field-manager=mec-testbed',
      '--force-conflicts',
      ...extra,
      '-f',
      files.get(overlay) ?? '',
    ]);

  // kind last: the admission and RBAC checks below run on the default testbed.
  for (const overlay of ['cluster', 'kind-proxy', 'kind']) {
    it(`${overlay}: applies with server-side apply, and a re-apply (server dry run) shows no drift`, async () => {
      const { stdout } = await apply(overlay);
      assert.match(stdout, /deployment\.apps\/edge serverside-applied/);
      // kubectl diff runs a server-side dry-run apply and compares with what is stored: exit 0 = no difference.
      await cp.kubectl([
        'diff',
        '--server-side',
        '--field-manager=mec-testbed',
        '--force-conflicts',
        '-f',
        files.get(overlay) ?? '',
      ]);
      const dry = await apply(overlay, ['--dry-run=server']);
      assert.doesNotMatch(dry.stderr, /Warning|forbidden/i, dry.stderr);
    });
  }

  it('the controller manager creates every Deployment pod under Pod Security restricted', async () => {
    const apps = cp.kc.makeApiClient(AppsV1Api);
    const core = cp.kc.makeApiClient(CoreV1Api);
    const deployments = (await apps.listNamespacedDeployment({ namespace: 'mec-testbed' })).items;
    assert.ok(deployments.length >= 5, deployments.map((d) => d.metadata?.name).join(', '));
    for (const d of deployments) {
      const name = d.metadata?.name ?? '';
      await eventually(
        async () => {
          const pods = await core.listNamespacedPod({
            namespace: 'mec-testbed',
            labelSelector: Object.entries(d.spec?.selector.matchLabels ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          });
          return pods.items.length >= (d.spec?.replicas ?? 1);
        },
        {
          timeoutMs: 90_000,
          what: `pods of Deployment ${name} (a FailedCreate would mean admission refused them)`,
        },
      );
    }
  });

  it('the link agent gets one pod per site node in mec-testbed-system, none on the control plane', async () => {
    const core = cp.kc.makeApiClient(CoreV1Api);
    const pods = await eventually(
      async () => {
        const list = await core.listNamespacedPod({
          namespace: 'mec-testbed-system',
          labelSelector: 'app.kubernetes.io/name=link-agent',
        });
        return list.items.length === SITES.length ? list.items : undefined;
      },
      { timeoutMs: 90_000, what: 'one link-agent pod per site node' },
    );
    const targets = pods.map(
      (p: V1Pod) =>
        p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms?.[0]
          ?.matchFields?.[0]?.values?.[0],
    );
    assert.deepEqual(targets.sort(), SITES.map((s) => `mec-test-${s}`).sort());
  });

  it("the agent's exemption is exactly as narrow as intended: its pod is refused in mec-testbed", async () => {
    const core = cp.kc.makeApiClient(CoreV1Api);
    const agent = renderOverlay('kind').find(
      (o) => o.kind === 'DaemonSet' && o.metadata?.name === 'link-agent',
    ) as Manifest;
    const podFrom = (namespace: string, template: Manifest): V1Pod => ({
      metadata: { name: 'mec-test-admission', namespace },
      spec: template as V1PodSpec,
    });
    // Allowed where it belongs.
    await core.createNamespacedPod({
      namespace: 'mec-testbed-system',
      body: podFrom('mec-testbed-system', podSpecOf(agent) as Manifest),
      dryRun: 'All',
    });
    // Refused in the restricted namespace, for each privilege it holds (with an account that exists there, so
    // that Pod Security is what refuses it).
    const moved = { ...(podSpecOf(agent) as Manifest), serviceAccountName: 'edge' };
    await assert.rejects(
      core.createNamespacedPod({
        namespace: 'mec-testbed',
        body: podFrom('mec-testbed', moved),
        dryRun: 'All',
      }),
      (err: unknown) => {
        assert.ok(err instanceof ApiException && err.code === 403, String(err));
        const body = String(JSON.parse(String(err.body)).message);
        assert.match(body, /violates PodSecurity "restricted:latest"/);
        assert.match(body, /host namespaces \(hostNetwork=true\)/);
        assert.match(body, /NET_ADMIN/);
        assert.match(body, /runAsNonRoot/);
        return true;
      },
    );
    // And a hardened service pod is fine there.
    const edge = renderOverlay('kind').find(
      (o) => o.kind === 'Deployment' && o.metadata?.name === 'edge',
    ) as Manifest;
    await core.createNamespacedPod({
      namespace: 'mec-testbed',
      body: podFrom('mec-testbed', podSpecOf(edge) as Manifest),
      dryRun: 'All',
    });
  });

  describe('RBAC: least privilege per ServiceAccount', () => {
    type Check = { verb: string; resource: string; namespace?: string; name?: string; group?: string };
    const can = async (sa: string, check: Check) => {
      const authz = cp.kc.makeApiClient(AuthorizationV1Api);
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: `system:serviceaccount:${sa}`,
            groups: [
              'system:serviceaccounts',
              `system:serviceaccounts:${sa.split(':')[0]}`,
              'system:authenticated',
            ],
            resourceAttributes: {
              verb: check.verb,
              resource: check.resource,
              group: check.group ?? '',
              ...(check.namespace ? { namespace: check.namespace } : {}),
              ...(check.name ? { name: check.name } : {}),
            },
          },
        },
      });
      return review.status?.allowed === true;
    };
    const show = (c: Check) =>
      `${c.verb} ${c.group ? `${c.group}/` : ''}${c.resource}${c.name ? `/${c.name}` : ''} in ${c.namespace ?? '(cluster)'}`;
    const expect = async (sa: string, allowed: Check[], denied: Check[]) => {
      const wrong: string[] = [];
      for (const c of allowed) if (!(await can(sa, c))) wrong.push(`should allow ${show(c)}`);
      for (const c of denied) if (await can(sa, c)) wrong.push(`should deny ${show(c)}`);
      assert.deepEqual(wrong, [], sa);
    };
    const sys = 'mec-testbed-system';
    const app = 'mec-testbed';

    it('link-agent: reads its profile and nodes, publishes its status, nothing else', () =>
      expect(
        `${sys}:link-agent`,
        [
          { verb: 'get', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'watch', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'list', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'create', resource: 'configmaps', namespace: sys },
          { verb: 'patch', resource: 'configmaps', namespace: sys, name: 'link-agent-status-mec-test-ue' },
          { verb: 'list', resource: 'nodes' },
          { verb: 'watch', resource: 'nodes' },
        ],
        [
          { verb: 'list', resource: 'configmaps', namespace: sys },
          { verb: 'get', resource: 'configmaps', namespace: sys, name: 'kube-root-ca.crt' },
          { verb: 'delete', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'get', resource: 'configmaps', namespace: app, name: 'link-profile' },
          { verb: 'get', resource: 'secrets', namespace: sys },
          { verb: 'patch', resource: 'nodes', name: 'mec-test-ue' },
          { verb: 'list', resource: 'pods', namespace: sys },
          { verb: 'create', resource: 'pods', namespace: sys },
          { verb: 'create', resource: 'pods', namespace: app, name: 'x' },
        ],
      ));

    it('prometheus: discovers in the two testbed namespaces and reads nodes, read-only', () =>
      expect(
        `${app}:prometheus`,
        [
          { verb: 'list', resource: 'pods', namespace: app },
          { verb: 'watch', resource: 'pods', namespace: sys },
          { verb: 'list', resource: 'endpointslices', group: 'discovery.k8s.io', namespace: app },
          { verb: 'list', resource: 'services', namespace: app },
          { verb: 'list', resource: 'nodes' },
        ],
        [
          { verb: 'list', resource: 'pods' },
          { verb: 'list', resource: 'pods', namespace: 'kube-system' },
          { verb: 'get', resource: 'secrets', namespace: app },
          { verb: 'get', resource: 'configmaps', namespace: app },
          { verb: 'create', resource: 'pods', namespace: app },
          { verb: 'patch', resource: 'nodes', name: 'mec-test-ue' },
          { verb: 'delete', resource: 'pods', namespace: app, name: 'x' },
        ],
      ));

    it('link-proxy: reads the profile ConfigMap, nothing else', () =>
      expect(
        `${app}:link-proxy`,
        [
          { verb: 'get', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'list', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'watch', resource: 'configmaps', namespace: sys, name: 'link-profile' },
        ],
        [
          { verb: 'list', resource: 'configmaps', namespace: sys },
          { verb: 'get', resource: 'configmaps', namespace: sys, name: 'kube-root-ca.crt' },
          { verb: 'patch', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'delete', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          { verb: 'get', resource: 'configmaps', namespace: app, name: 'link-profile' },
          { verb: 'get', resource: 'secrets', namespace: app, name: 'grafana-admin' },
          { verb: 'list', resource: 'pods', namespace: app },
          { verb: 'list', resource: 'nodes' },
        ],
      ));

    for (const sa of ['edge', 'cloud', 'grafana', 'blackbox-exporter']) {
      it(`${sa}: no API access at all`, () =>
        expect(
          `${app}:${sa}`,
          [],
          [
            { verb: 'list', resource: 'pods', namespace: app },
            { verb: 'get', resource: 'configmaps', namespace: app, name: 'link-profile' },
            { verb: 'get', resource: 'secrets', namespace: app, name: 'grafana-admin' },
            { verb: 'list', resource: 'nodes' },
            { verb: 'get', resource: 'configmaps', namespace: sys, name: 'link-profile' },
          ],
        ));
    }
  });
});
