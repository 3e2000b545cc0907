// Deciding whether the testbed's workloads are ready, and saying why not. Pure: the API objects in, states
// and human-readable lines out; `wait` (main.ts) only lists objects and prints what these functions return.
import type { V1DaemonSet, V1Deployment, V1Pod } from '@kubernetes/client-node';

export interface WorkloadState {
  kind: 'Deployment' | 'DaemonSet';
  namespace: string;
  name: string;
  desired: number;
  ready: number;
  ok: boolean;
  /** What is still missing, when not ok (rollout in progress, no eligible node, …). */
  waitingFor?: string;
  selector: Record<string, string>;
}

/** kubectl rollout status' rules: the controller saw the latest spec, every replica updated, ready, available. */
export function deploymentState(d: V1Deployment): WorkloadState {
  const desired = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  const ready = s.readyReplicas ?? 0;
  const base = {
    kind: 'Deployment' as const,
    namespace: d.metadata?.namespace ?? '',
    name: d.metadata?.name ?? '',
    desired,
    ready,
    selector: d.spec?.selector?.matchLabels ?? {},
  };
  let waitingFor: string | undefined;
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0))
    waitingFor = 'the controller to see the new spec';
  else if ((s.updatedReplicas ?? 0) < desired) waitingFor = `${s.updatedReplicas ?? 0}/${desired} updated`;
  else if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0))
    waitingFor = `${(s.replicas ?? 0) - (s.updatedReplicas ?? 0)} old replica(s) to terminate`;
  else if (ready < desired) waitingFor = `${ready}/${desired} ready`;
  else if ((s.availableReplicas ?? 0) < desired)
    waitingFor = `${s.availableReplicas ?? 0}/${desired} available`;
  return { ...base, ok: waitingFor === undefined, ...(waitingFor ? { waitingFor } : {}) };
}

export function daemonSetState(ds: V1DaemonSet): WorkloadState {
  const s = ds.status ?? {
    currentNumberScheduled: 0,
    desiredNumberScheduled: 0,
    numberMisscheduled: 0,
    numberReady: 0,
  };
  const desired = s.desiredNumberScheduled ?? 0;
  const ready = s.numberReady ?? 0;
  let waitingFor: string | undefined;
  if ((s.observedGeneration ?? 0) < (ds.metadata?.generation ?? 0))
    waitingFor = 'the controller to see the new spec';
  else if (desired === 0)
    waitingFor = 'a node to run on (no node carries the label mec-testbed.dev/site; see `make status`)';
  else if ((s.updatedNumberScheduled ?? 0) < desired)
    waitingFor = `${s.updatedNumberScheduled ?? 0}/${desired} updated`;
  else if (ready < desired) waitingFor = `${ready}/${desired} ready`;
  else if ((s.numberAvailable ?? 0) < desired) waitingFor = `${s.numberAvailable ?? 0}/${desired} available`;
  return {
    kind: 'DaemonSet',
    namespace: ds.metadata?.namespace ?? '',
    name: ds.metadata?.name ?? '',
    desired,
    ready,
    ok: waitingFor === undefined,
    ...(waitingFor ? { waitingFor } : {}),
    selector: ds.spec?.selector?.matchLabels ?? {},
  };
}

export function selects(
  selector: Record<string, string>,
  labels: Record<string, string> | undefined,
): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** The most telling reason a pod is not ready, in the words `kubectl describe` would use. */
export function podReason(pod: V1Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  const status = pod.status ?? {};
  for (const c of [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])]) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && waiting.reason !== 'PodInitializing') {
      const last = c.lastState?.terminated;
      const lastText = last ? ` (last exit ${last.exitCode}${last.reason ? ` ${last.reason}` : ''})` : '';
      return `${c.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}${lastText}`;
    }
    const terminated = c.state?.terminated;
    if (terminated && terminated.exitCode !== 0)
      return `${c.name}: exited ${terminated.exitCode}${terminated.reason ? ` ${terminated.reason}` : ''}`;
  }
  const conditions = status.conditions ?? [];
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False')
    return `${scheduled.reason ?? 'Unschedulable'}${scheduled.message ? `: ${scheduled.message}` : ''}`;
  if (!pod.spec?.nodeName) return 'Pending: not scheduled to a node yet';
  const ready = conditions.find((c) => c.type === 'Ready');
  if (status.phase === 'Running' && ready?.status !== 'True') {
    const notReady = (status.containerStatuses ?? []).filter((c) => !c.ready).map((c) => c.name);
    return `Running, not ready${notReady.length ? ` (${notReady.join(', ')}: readiness probe failing)` : ''}${ready?.message ? `: ${ready.message}` : ''}`;
  }
  return status.phase ?? 'Pending';
}

/** What the user can do about a reason; undefined when there is nothing specific to say. */
export function hintFor(reason: string): string | undefined {
  if (/ErrImagePull|ImagePullBackOff|ErrImageNeverPull/.test(reason))
    return 'the image is not in the cluster: `make up` builds the images and loads them into kind; on a real cluster push them to a registry the nodes can pull from';
  if (/CrashLoopBackOff|exited/.test(reason))
    return 'the container keeps failing: read its log with `make logs`';
  if (/CreateContainerConfigError/.test(reason))
    return 'a Secret or ConfigMap it needs is missing (the Grafana admin Secret is created by `make up`)';
  if (/Unschedulable|didn't match|untolerated taint/.test(reason))
    return "no node fits: each site needs a node labelled mec-testbed.dev/site=<site> (`make status` lists the nodes' sites)";
  if (/not scheduled/.test(reason)) return 'is a scheduler running? (`kubectl get pods -n kube-system`)';
  if (/readiness probe/.test(reason))
    return 'the service answers /readyz with an error: read its log with `make logs`';
  return undefined;
}

export interface Assessment {
  ready: WorkloadState[];
  waiting: Array<WorkloadState & { pods: Array<{ name: string; node: string; reason: string }> }>;
}

export function assess(workloads: WorkloadState[], pods: V1Pod[]): Assessment {
  const ready = workloads.filter((w) => w.ok);
  const waiting = workloads
    .filter((w) => !w.ok)
    .map((w) => ({
      ...w,
      pods: pods
        .filter((p) => p.metadata?.namespace === w.namespace && selects(w.selector, p.metadata?.labels))
        .filter((p) => !isPodReady(p))
        .map((p) => ({
          name: p.metadata?.name ?? '?',
          node: p.spec?.nodeName ?? '(none)',
          reason: podReason(p),
        })),
    }));
  return { ready, waiting };
}

export function isPodReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** One progress line: `[  12s] 5/7 ready; waiting for cloud (0/1 ready: edge: ContainerCreating)`. */
export function progressLine(a: Assessment, elapsedSeconds: number): string {
  const total = a.ready.length + a.waiting.length;
  const head = `[${String(Math.round(elapsedSeconds)).padStart(4)}s] ${a.ready.length}/${total} workloads ready`;
  if (a.waiting.length === 0) return head;
  const parts = a.waiting.map((w) => {
    const reason = w.pods[0]?.reason;
    return `${w.name} (${w.waitingFor}${reason ? `; ${reason}` : ''})`;
  });
  return `${head}; waiting for ${parts.join(', ')}`;
}

/** The failure report on timeout: every workload not ready, its pods' reasons and what to do. */
export function timeoutReport(a: Assessment, timeoutSeconds: number): string {
  const lines = [`Timed out after ${timeoutSeconds}s: ${a.waiting.length} workload(s) not ready.`];
  for (const w of a.waiting) {
    lines.push(`  ${w.kind} ${w.namespace}/${w.name}: ${w.waitingFor}`);
    if (w.pods.length === 0)
      lines.push('    no pod yet (is the controller manager running? is a quota or admission blocking it?)');
    for (const p of w.pods) {
      lines.push(`    pod ${p.name} on ${p.node}: ${p.reason}`);
      const hint = hintFor(p.reason);
      if (hint) lines.push(`      -> ${hint}`);
    }
  }
  lines.push(
    'More: `make status`, `make logs`, `kubectl get events -n mec-testbed --sort-by=.lastTimestamp`.',
  );
  return lines.join('\n');
}
