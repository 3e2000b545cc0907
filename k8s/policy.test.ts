// The security policy (k8s/policy.ts) on every rendered overlay, and on broken copies of real objects so each
// rule is seen to fire.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skipUnless } from '../test/support/requirements.ts';
import {
  id,
  networkPolicyViolations,
  policyViolations,
  quantity,
  rbacViolations,
  serviceViolations,
  siteSizeViolations,
  workloadViolations,
} from './policy.ts';
import { kustomize, type Manifest, OVERLAYS, renderOverlay } from './render.ts';

const clone = <T>(x: T): T => structuredClone(x);

describe('quantity', () => {
  it('reads CPU and memory quantities', () => {
    assert.equal(quantity('250m'), 0.25);
    assert.equal(quantity('1'), 1);
    assert.equal(quantity('128Mi'), 128 * 1024 * 1024);
    assert.equal(quantity('1Gi'), 1024 ** 3);
    assert.ok(Number.isNaN(quantity('lots')));
    assert.ok(Number.isNaN(quantity(undefined)));
  });
});

describe('policy over every overlay', { skip: skipUnless(kustomize) }, () => {
  const rendered = new Map(OVERLAYS.map((o) => [o, renderOverlay(o)]));

  for (const overlay of OVERLAYS) {
    it(`${overlay}: no violations`, () => {
      const objects = rendered.get(overlay) ?? [];
      assert.ok(objects.length > 30, `${overlay} rendered only ${objects.length} objects`);
      assert.deepEqual(policyViolations(objects), []);
    });
  }

  const kind = rendered.get('kind') ?? [];
  const find = (kindName: string, name: string) => {
    const o = kind.find((x) => x.kind === kindName && x.metadata?.name === name);
    assert.ok(o, `${kindName} ${name} rendered`);
    return o as Manifest;
  };

  it('the link agent is the only workload with privileges, and only NET_ADMIN', () => {
    const agent = find('DaemonSet', 'link-agent');
    assert.equal(agent.metadata?.namespace, 'mec-testbed-system');
    assert.deepEqual(workloadViolations(agent), []);
    const c = agent.spec.template.spec.containers[0];
    assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'], add: ['NET_ADMIN'] });
    assert.equal(agent.spec.template.spec.hostNetwork, true);
    // The same spec anywhere else is refused.
    const moved = clone(agent);
    moved.metadata = { ...moved.metadata, namespace: 'mec-testbed' };
    const rules = workloadViolations(moved).map((v) => v.rule);
    assert.ok(rules.includes('hostNetwork is reserved for the link agent'), rules.join('; '));
    assert.ok(rules.some((r) => r.includes('capability NET_ADMIN may not be added')));
    assert.ok(rules.some((r) => r.includes('runAsUser must be 1000')));
  });

  it('the agent runs on site nodes only', () => {
    const agent = find('DaemonSet', 'link-agent');
    const terms =
      agent.spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution;
    assert.deepEqual(terms.nodeSelectorTerms[0].matchExpressions, [
      { key: 'mec-testbed.dev/site', operator: 'Exists' },
    ]);
  });

  it('each hardening rule fires when broken', () => {
    const edge = find('Deployment', 'edge');
    const cases: Array<[string, (c: Manifest, spec: Manifest) => void]> = [
      ['allowPrivilegeEscalation must be false', (c) => delete c.securityContext.allowPrivilegeEscalation],
      ['readOnlyRootFilesystem must be true', (c) => (c.securityContext.readOnlyRootFilesystem = false)],
      ['capabilities must drop ALL', (c) => (c.securityContext.capabilities.drop = ['NET_RAW'])],
      ['capability SYS_ADMIN may not be added', (c) => (c.securityContext.capabilities.add = ['SYS_ADMIN'])],
      ['privileged is never allowed', (c) => (c.securityContext.privileged = true)],
      [
        'runAsUser must be 1000',
        (c, spec) => {
          delete c.securityContext.runAsUser;
          spec.securityContext.runAsUser = 0;
        },
      ],
      [
        'seccompProfile must be RuntimeDefault',
        (c, spec) => {
          delete c.securityContext.seccompProfile;
          delete spec.securityContext.seccompProfile;
        },
      ],
      ['needs resources.limits.memory', (c) => delete c.resources.limits.memory],
      ['must be a local mec-testbed/<name>:dev image or pinned by digest', (c) => (c.image = 'nginx:latest')],
      ['needs its own ServiceAccount', (_c, spec) => delete spec.serviceAccountName],
      [
        'hostPath volumes are not allowed',
        (_c, spec) => spec.volumes.push({ name: 'h', hostPath: { path: '/' } }),
      ],
    ];
    for (const [rule, breakIt] of cases) {
      const bad = clone(edge);
      breakIt(bad.spec.template.spec.containers[0], bad.spec.template.spec);
      const rules = workloadViolations(bad).map((v) => v.rule);
      assert.ok(
        rules.some((r) => r.includes(rule)),
        `expected "${rule}", got ${JSON.stringify(rules)}`,
      );
    }
  });

  it('services are pinned to their site, probed, and drained before they are killed', () => {
    for (const name of ['edge', 'cloud']) assert.deepEqual(serviceViolations(find('Deployment', name)), []);
    const edge = find('Deployment', 'edge');
    const wrongSite = clone(edge);
    wrongSite.spec.template.spec.nodeSelector['mec-testbed.dev/site'] = 'cloud';
    assert.ok(serviceViolations(wrongSite).some((v) => v.rule.includes('nodeSelector')));
    const shortGrace = clone(edge);
    shortGrace.spec.template.spec.terminationGracePeriodSeconds = 12;
    assert.ok(serviceViolations(shortGrace).some((v) => v.rule.includes('terminationGracePeriodSeconds 12')));
    const noReady = clone(edge);
    noReady.spec.template.spec.containers[0].readinessProbe.httpGet.path = '/healthz';
    assert.ok(serviceViolations(noReady).some((v) => v.rule.includes('/readyz')));
  });

  it('the edge has less CPU than the cloud and no less memory, and the check notices otherwise', () => {
    assert.deepEqual(siteSizeViolations(kind), []);
    const smallMemory = kind.map((o) => {
      if (o.kind === 'Deployment' && o.metadata?.name === 'edge') {
        const small = clone(o);
        small.spec.template.spec.containers[0].resources.limits.memory = '256Mi';
        return small;
      }
      return o;
    });
    assert.deepEqual(
      siteSizeViolations(smallMemory).map((v) => v.rule),
      ["resources.limits.memory must not be smaller than the cloud's"],
    );
    const swapped = kind.map((o) => {
      if (o.kind === 'Deployment' && o.metadata?.name === 'edge') {
        const big = clone(o);
        big.spec.template.spec.containers[0].resources = clone(
          find('Deployment', 'cloud').spec.template.spec.containers[0].resources,
        );
        return big;
      }
      return o;
    });
    assert.equal(siteSizeViolations(swapped).length, 2, 'CPU requested and limited');
  });

  it('NetworkPolicies: deny by default, every flow open at both ends, nothing unnamed', () => {
    assert.deepEqual(networkPolicyViolations(kind), []);
    const withoutDeny = kind.filter(
      (o) => !(o.kind === 'NetworkPolicy' && o.metadata?.name === 'default-deny'),
    );
    assert.equal(networkPolicyViolations(withoutDeny).length, 2);
    const halfFlow = kind.filter((o) => o.metadata?.name !== 'edge-to-cloud-ingress');
    assert.deepEqual(
      networkPolicyViolations(halfFlow).map((v) => v.object),
      ['flow edge-to-cloud'],
    );
    const flows = new Set(kind.map((o) => o.metadata?.annotations?.['mec-testbed.dev/flow']).filter(Boolean));
    for (const flow of [
      'dns',
      'ue-to-services',
      'edge-to-cloud',
      'prometheus-scrape',
      'grafana-queries',
      'remote-write',
    ])
      assert.ok(flows.has(flow), `flow ${flow} is allowed`);
  });

  it('RBAC: no wildcards, no secrets, cluster-wide access read-only, every ServiceAccount defined', () => {
    assert.deepEqual(rbacViolations(kind), []);
    const greedy = clone(find('Role', 'link-agent'));
    greedy.rules.push(
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
    );
    assert.equal(rbacViolations([greedy]).length >= 2, true);
    const writer = clone(find('ClusterRole', 'mec-testbed-link-agent'));
    writer.rules[0].verbs.push('patch');
    assert.deepEqual(
      rbacViolations([writer]).map((v) => v.rule),
      ['ClusterRoles are read-only (get, list, watch)'],
    );
  });

  it('every workload lands in a namespace the policy expects, with no default ServiceAccount', () => {
    const workloads = kind.filter((o) =>
      ['Deployment', 'DaemonSet', 'Job', 'CronJob', 'StatefulSet'].includes(o.kind ?? ''),
    );
    assert.ok(workloads.length >= 6, workloads.map(id).join(', '));
    for (const w of workloads)
      assert.ok(['mec-testbed', 'mec-testbed-system'].includes(w.metadata?.namespace ?? ''), id(w));
  });
});
