// The testbed's security and placement policy, as code over rendered manifests. Pure: objects in, violations
// out (each naming the object, the field and the rule). k8s/policy.test.ts runs it on every overlay and on
// deliberately bad objects, so a rule that stops firing is noticed too.
import type { Manifest } from './render.ts';

export interface Violation {
  object: string;
  rule: string;
}

/** The one workload allowed what tc needs: root with NET_ADMIN only, host network, in mec-testbed-system only. */
export const PRIVILEGED_WORKLOAD = { kind: 'DaemonSet', namespace: 'mec-testbed-system', name: 'link-agent' };
export const APP_NAMESPACE = 'mec-testbed';
export const SYSTEM_NAMESPACE = 'mec-testbed-system';
export const SITE_LABEL = 'mec-testbed.dev/site';
export const UID = 1000;
/** Flows whose other end is not a pod (kube-dns in kube-system, the API server, users): one side only. */
export const ONE_SIDED_FLOWS = new Set(['dns', 'prometheus-api', 'proxy-api', 'users-to-ui']);

const WORKLOAD_KINDS = new Set([
  'Deployment',
  'DaemonSet',
  'StatefulSet',
  'Job',
  'CronJob',
  'Pod',
  'ReplicaSet',
]);

export function id(o: Manifest): string {
  return `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;
}

export function podSpecOf(o: Manifest): Manifest | undefined {
  if (o.kind === 'Pod') return o.spec;
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec?.template?.spec;
  return o.spec?.template?.spec;
}

export function isPrivilegedWorkload(o: Manifest): boolean {
  return (
    o.kind === PRIVILEGED_WORKLOAD.kind &&
    o.metadata?.namespace === PRIVILEGED_WORKLOAD.namespace &&
    o.metadata?.name === PRIVILEGED_WORKLOAD.name
  );
}

/** CPU in cores, memory in bytes, from Kubernetes quantities ("250m", "1", "128Mi", "1Gi"). */
export function quantity(q: string | number | undefined): number {
  if (q === undefined) return Number.NaN;
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|Ki|Mi|Gi|Ti)?$/.exec(q.trim());
  if (!m) return Number.NaN;
  const factor: Record<string, number> = {
    m: 1e-3,
    k: 1e3,
    M: 1e6,
    G: 1e9,
    Ki: 1024,
    Mi: 1024 ** 2,
    Gi: 1024 ** 3,
    Ti: 1024 ** 4,
  };
  return Number(m[1]) * (m[2] ? (factor[m[2]] ?? Number.NaN) : 1);
}

function envValue(container: Manifest, name: string): string | undefined {
  return (container.env ?? []).find((e: Manifest) => e.name === name)?.value;
}

export function workloadViolations(o: Manifest): Violation[] {
  const out: Violation[] = [];
  const add = (rule: string) => out.push({ object: id(o), rule });
  const spec = podSpecOf(o);
  if (!spec) return [{ object: id(o), rule: 'has no pod template' }];
  const privileged = isPrivilegedWorkload(o);
  const ns = o.metadata?.namespace;
  const podSc = spec.securityContext ?? {};

  if (ns === SYSTEM_NAMESPACE && !privileged)
    add(`only ${PRIVILEGED_WORKLOAD.name} may run in ${SYSTEM_NAMESPACE}`);
  if (ns !== APP_NAMESPACE && ns !== SYSTEM_NAMESPACE) add(`must be in ${APP_NAMESPACE}`);
  if (spec.hostNetwork && !privileged) add('hostNetwork is reserved for the link agent');
  if (spec.hostPID || spec.hostIPC) add('hostPID/hostIPC are never allowed');
  if (!spec.serviceAccountName || spec.serviceAccountName === 'default') add('needs its own ServiceAccount');
  if ((spec.volumes ?? []).some((v: Manifest) => v.hostPath)) add('hostPath volumes are not allowed');

  const containers: Manifest[] = [...(spec.initContainers ?? []), ...(spec.containers ?? [])];
  for (const c of containers) {
    const at = (rule: string) => add(`container ${c.name}: ${rule}`);
    const sc = c.securityContext ?? {};
    const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
    if (seccomp !== 'RuntimeDefault') at('seccompProfile must be RuntimeDefault');
    if (sc.allowPrivilegeEscalation !== false) at('allowPrivilegeEscalation must be false');
    if (sc.readOnlyRootFilesystem !== true) at('readOnlyRootFilesystem must be true');
    if (sc.privileged === true) at('privileged is never allowed');
    const drop: string[] = sc.capabilities?.drop ?? [];
    if (!drop.includes('ALL')) at('capabilities must drop ALL');
    const addCaps: string[] = sc.capabilities?.add ?? [];
    const allowedAdd = privileged ? ['NET_ADMIN'] : [];
    for (const cap of addCaps) if (!allowedAdd.includes(cap)) at(`capability ${cap} may not be added`);
    if (privileged) {
      if (!addCaps.includes('NET_ADMIN')) at('the link agent needs NET_ADMIN (tc)');
    } else {
      const runAsNonRoot = sc.runAsNonRoot ?? podSc.runAsNonRoot;
      const runAsUser = sc.runAsUser ?? podSc.runAsUser;
      if (runAsNonRoot !== true) at('runAsNonRoot must be true');
      if (runAsUser !== UID) at(`runAsUser must be ${UID}`);
    }
    for (const kind of ['requests', 'limits'] as const) {
      for (const r of ['cpu', 'memory']) {
        if (!Number.isFinite(quantity(c.resources?.[kind]?.[r]))) at(`needs resources.${kind}.${r}`);
      }
    }
    const image: string = c.image ?? '';
    if (!/^mec-testbed\/[a-z0-9-]+:dev$/.test(image) && !/@sha256:[0-9a-f]{64}$/.test(image))
      at(`image ${image} must be a local mec-testbed/<name>:dev image or pinned by digest`);
  }
  return out;
}

/** The edge and cloud services: pinned to their site, probed on /healthz and /readyz, drained before killed. */
export function serviceViolations(o: Manifest): Violation[] {
  const out: Violation[] = [];
  const add = (rule: string) => out.push({ object: id(o), rule });
  const spec = podSpecOf(o) ?? {};
  const site = o.metadata?.name;
  if (spec.nodeSelector?.[SITE_LABEL] !== site) add(`nodeSelector must pin it to ${SITE_LABEL}=${site}`);
  if (spec.automountServiceAccountToken !== false)
    add('does not call the API: automountServiceAccountToken false');
  for (const c of spec.containers ?? []) {
    if (c.readinessProbe?.httpGet?.path !== '/readyz')
      add(`container ${c.name}: readinessProbe must GET /readyz`);
    if (c.livenessProbe?.httpGet?.path !== '/healthz')
      add(`container ${c.name}: livenessProbe must GET /healthz`);
    const drain = Number(envValue(c, 'SHUTDOWN_TIMEOUT_SECONDS') ?? 10);
    const preStop = Number(c.lifecycle?.preStop?.sleep?.seconds ?? 0);
    const grace = Number(spec.terminationGracePeriodSeconds ?? 30);
    if (!(grace > drain + preStop))
      add(`terminationGracePeriodSeconds ${grace} must exceed preStop ${preStop}s + drain ${drain}s`);
  }
  return out;
}

export function namespaceViolations(objects: Manifest[]): Violation[] {
  const out: Violation[] = [];
  const ns = (name: string) => objects.find((o) => o.kind === 'Namespace' && o.metadata?.name === name);
  const labels = (name: string) => ns(name)?.metadata?.labels ?? {};
  const app = labels(APP_NAMESPACE);
  for (const mode of ['enforce', 'audit', 'warn']) {
    if (app[`pod-security.kubernetes.io/${mode}`] !== 'restricted')
      out.push({ object: `Namespace ${APP_NAMESPACE}`, rule: `pod-security ${mode} must be restricted` });
  }
  if (labels(SYSTEM_NAMESPACE)['pod-security.kubernetes.io/enforce'] !== 'privileged')
    out.push({
      object: `Namespace ${SYSTEM_NAMESPACE}`,
      rule: 'must enforce privileged (the link agent only)',
    });
  return out;
}

export function networkPolicyViolations(objects: Manifest[]): Violation[] {
  const out: Violation[] = [];
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const namespace of [APP_NAMESPACE, SYSTEM_NAMESPACE]) {
    const denyAll = policies.find(
      (p) =>
        p.metadata?.namespace === namespace &&
        Object.keys(p.spec?.podSelector ?? {}).length === 0 &&
        (p.spec?.policyTypes ?? []).includes('Ingress') &&
        (p.spec?.policyTypes ?? []).includes('Egress') &&
        !p.spec?.ingress &&
        !p.spec?.egress,
    );
    if (!denyAll)
      out.push({
        object: `namespace ${namespace}`,
        rule: 'needs a default-deny NetworkPolicy (Ingress and Egress)',
      });
  }
  const sides = new Map<string, Set<string>>();
  for (const p of policies) {
    const isDeny = !p.spec?.ingress && !p.spec?.egress;
    if (isDeny) continue;
    const flow = p.metadata?.annotations?.['mec-testbed.dev/flow'];
    if (!flow) {
      out.push({ object: id(p), rule: 'an allow rule must name its flow (annotation mec-testbed.dev/flow)' });
      continue;
    }
    const types: string[] = p.spec?.policyTypes ?? [];
    if (types.length !== 1)
      out.push({ object: id(p), rule: 'one direction per allow rule (policyTypes: one entry)' });
    for (const t of types) sides.set(flow, (sides.get(flow) ?? new Set()).add(t));
    for (const rule of [...(p.spec?.ingress ?? []), ...(p.spec?.egress ?? [])]) {
      if (!rule.ports?.length) out.push({ object: id(p), rule: 'every allow rule names its ports' });
      if (!(rule.from ?? rule.to)?.length)
        out.push({ object: id(p), rule: 'every allow rule names its peers' });
    }
  }
  for (const [flow, types] of sides) {
    if (!ONE_SIDED_FLOWS.has(flow) && !(types.has('Ingress') && types.has('Egress')))
      out.push({ object: `flow ${flow}`, rule: 'a flow between pods needs an Egress and an Ingress rule' });
  }
  return out;
}

export function rbacViolations(objects: Manifest[]): Violation[] {
  const out: Violation[] = [];
  for (const o of objects.filter((x) => x.kind === 'Role' || x.kind === 'ClusterRole')) {
    for (const rule of o.rules ?? []) {
      const all = [...(rule.verbs ?? []), ...(rule.resources ?? []), ...(rule.apiGroups ?? [])];
      if (all.includes('*')) out.push({ object: id(o), rule: 'no wildcards in RBAC rules' });
      if (
        (rule.resources ?? []).some((r: string) =>
          /^secrets|^pods\/exec|^pods\/attach|^serviceaccounts\/token/.test(r),
        )
      )
        out.push({ object: id(o), rule: `no access to ${rule.resources.join(', ')}` });
      if (
        o.kind === 'ClusterRole' &&
        (rule.verbs ?? []).some((v: string) => !['get', 'list', 'watch'].includes(v))
      )
        out.push({ object: id(o), rule: 'ClusterRoles are read-only (get, list, watch)' });
      if (
        (rule.verbs ?? []).some((v: string) =>
          ['escalate', 'bind', 'impersonate', 'delete', 'deletecollection'].includes(v),
        )
      )
        out.push({ object: id(o), rule: `verb not allowed: ${rule.verbs.join(', ')}` });
    }
  }
  const accounts = new Set(
    objects
      .filter((o) => o.kind === 'ServiceAccount')
      .map((o) => `${o.metadata?.namespace}/${o.metadata?.name}`),
  );
  for (const o of objects.filter((x) => WORKLOAD_KINDS.has(x.kind ?? ''))) {
    const sa = podSpecOf(o)?.serviceAccountName;
    if (sa && !accounts.has(`${o.metadata?.namespace}/${sa}`))
      out.push({ object: id(o), rule: `its ServiceAccount ${sa} is not part of the manifests` });
  }
  return out;
}

/**
 * The edge has less CPU than the cloud (the point of the inspect workload), and no less memory: a site differs in
 * cores, and both must hold an inspect of the largest image rather than be killed by it.
 */
export function siteSizeViolations(objects: Manifest[]): Violation[] {
  const container = (name: string) =>
    podSpecOf(objects.find((o) => o.kind === 'Deployment' && o.metadata?.name === name) ?? ({} as Manifest))
      ?.containers?.[0];
  const edge = container('edge');
  const cloud = container('cloud');
  if (!edge || !cloud) return [{ object: 'Deployments edge, cloud', rule: 'both must exist' }];
  const out: Violation[] = [];
  for (const kind of ['requests', 'limits'] as const) {
    if (!(quantity(edge.resources?.[kind]?.cpu) < quantity(cloud.resources?.[kind]?.cpu)))
      out.push({
        object: 'Deployment mec-testbed/edge',
        rule: `resources.${kind}.cpu must be smaller than the cloud's`,
      });
  }
  if (quantity(edge.resources?.limits?.memory) < quantity(cloud.resources?.limits?.memory))
    out.push({
      object: 'Deployment mec-testbed/edge',
      rule: "resources.limits.memory must not be smaller than the cloud's",
    });
  return out;
}

export function policyViolations(objects: Manifest[]): Violation[] {
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind ?? ''));
  return [
    ...namespaceViolations(objects),
    ...workloads.flatMap(workloadViolations),
    ...workloads
      .filter((o) => o.spec?.template?.metadata?.labels?.['app.kubernetes.io/component'] === 'service')
      .flatMap(serviceViolations),
    ...networkPolicyViolations(objects),
    ...rbacViolations(objects),
    ...siteSizeViolations(objects),
  ];
}
