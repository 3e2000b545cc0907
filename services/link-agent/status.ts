// The agent's status, where the CLI (services/cli) and users read it.
//
// Decision: one ConfigMap per node, `link-agent-status-<node>` in namespace `mec-testbed-system`, written by
// server-side apply (field manager `mec-link-agent`), owned by its Node (so it goes when the node goes), labelled
// `app.kubernetes.io/name=link-agent` and `mec-testbed.dev/node=<node>` (list them all with that label). Its data:
//   status.json   the AgentStatus below, as JSON (the CLI parses this key)
//   summary       one human line (`kubectl get cm -l app.kubernetes.io/name=link-agent -o yaml` reads well)
// A ConfigMap rather than node annotations: the agent then needs no write access to Nodes (cluster-scoped, which
// would let it relabel any node); its RBAC is `create`+`patch` on ConfigMaps in its own namespace.
//
// RBAC the agent needs (its ServiceAccount `link-agent` in mec-testbed-system):
//   ClusterRole: nodes: get, list, watch
//   Role (mec-testbed-system): configmaps: get, list, watch (resourceNames: [link-profile]; the agent lists and
//     watches it with fieldSelector metadata.name=link-profile, which resourceNames permits);
//     configmaps: create, patch (status ConfigMaps; names vary per node, so no resourceNames)
import {
  type KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { PROFILE_CONFIGMAP as PROFILE } from '../kube/profile.ts';
import type { ProbeCause } from './probe.ts';

export const NAMESPACE: string = PROFILE.namespace;
export const PROFILE_CONFIGMAP: string = PROFILE.name;
export const PROFILE_KEY: string = PROFILE.key;
export const STATUS_PREFIX = 'link-agent-status-';
export const STATUS_KEY = 'status.json';
export const FIELD_MANAGER = 'mec-link-agent';

export interface AgentStatus {
  node: string;
  site?: string;
  backend: 'netem';
  /** LINK_BACKEND: `off` probes and reports but shapes nothing (the proxy backend or a real network). */
  mode: 'netem' | 'off';
  /** The profile the tree was computed from (the last good one), or absent when none yet. */
  profile?: string;
  /** First 16 hex digits of the sha256 of the applied tree; absent while nothing is applied. */
  appliedHash?: string;
  /** True when the device matches the plan (or, without a plan, carries nothing of the agent's). */
  inSync: boolean;
  /** Why nothing is applied, when nothing is (waiting for a profile, node not labelled, netem missing). */
  idleReason?: string;
  netem: { available: boolean | null; cause?: ProbeCause; message: string; fix?: string };
  /** One line per destination site: class, leaf spec, matched prefixes. */
  plan: string[];
  warnings: string[];
  /** Problems of the newest profile text when it was refused (the previous good profile stays applied). */
  profileProblems: string[];
  lastError?: { message: string; at: string };
  lastAppliedAt?: string;
  updatedAt: string;
}

export function statusConfigMapName(node: string): string {
  return `${STATUS_PREFIX}${node}`;
}

export function statusSummary(s: AgentStatus): string {
  if (s.netem.available === false) return `netem unavailable on ${s.node}: ${s.netem.message}`;
  if (s.lastError) return `error on ${s.node}: ${s.lastError.message}`;
  if (s.idleReason) return `idle on ${s.node}: ${s.idleReason}`;
  const refused = s.profileProblems.length
    ? ` (newest profile refused: ${s.profileProblems.length} problems)`
    : '';
  return `${s.node} (${s.site}) applies ${s.profile} ${s.appliedHash ?? ''}${refused}`.trim();
}

export function statusConfigMap(s: AgentStatus, nodeUid?: string, namespace = NAMESPACE): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: statusConfigMapName(s.node),
      namespace,
      labels: { 'app.kubernetes.io/name': 'link-agent', 'mec-testbed.dev/node': s.node },
      ...(nodeUid
        ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: s.node, uid: nodeUid }] }
        : {}),
    },
    data: { [STATUS_KEY]: JSON.stringify(s, null, 2), summary: statusSummary(s) },
  };
}

/** Reads a status back (the CLI's side; also the tests'). */
export function parseStatus(cm: V1ConfigMap): AgentStatus {
  const text = cm.data?.[STATUS_KEY];
  if (!text) throw new Error(`ConfigMap ${cm.metadata?.name} has no ${STATUS_KEY}`);
  return JSON.parse(text) as AgentStatus;
}

/** Server-side apply of the status ConfigMap. */
export function statusPublisher(
  kc: KubeConfig,
  namespace = NAMESPACE,
): (s: AgentStatus, nodeUid?: string) => Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  return async (s, nodeUid) => {
    await api.patch(
      statusConfigMap(s, nodeUid, namespace),
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      PatchStrategy.ServerSideApply,
    );
  };
}
