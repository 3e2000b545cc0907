// Watches the two inputs of the agent and hands them to the reconciler (services/kube/watch.ts: list, then
// watch, and a failed informer replaced by one that lists again):
// - the profile ConfigMap, listed and watched by name (so RBAC may grant it by resourceNames);
// - the Nodes carrying the site label (a node losing the label arrives as a deletion).
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Node } from '@kubernetes/client-node';
import { watchConfigMap, watchObjects } from '../kube/watch.ts';
import { type Logger, silentLogger } from '../skeleton/logger.ts';
import { type NodeView, nodeView } from './nodes.ts';
import { SITE_LABEL } from './plan.ts';
import { NAMESPACE, PROFILE_CONFIGMAP } from './status.ts';

export interface ClusterInputs {
  setProfileConfigMap(cm: V1ConfigMap | undefined): void;
  setNodes(nodes: Iterable<NodeView>): void;
}

export interface ClusterWatchOptions {
  kc: KubeConfig;
  inputs: ClusterInputs;
  log?: Logger;
  namespace?: string;
  profileConfigMap?: string;
  /** Pause before replacing an informer that reported an error. */
  restartDelayMs?: number;
}

export interface ClusterWatch {
  /** Resolves once both informers have listed once. */
  synced: Promise<void>;
  /** How many times each informer has listed (the tests watch re-lists). */
  lists(): { profile: number; nodes: number };
  stop(): Promise<void>;
}

export function watchCluster(options: ClusterWatchOptions): ClusterWatch {
  const { kc, inputs } = options;
  const log = options.log ?? silentLogger;
  const restartDelayMs = options.restartDelayMs ?? 2000;
  const core = kc.makeApiClient(CoreV1Api);
  const profile = watchConfigMap({
    kc,
    namespace: options.namespace ?? NAMESPACE,
    name: options.profileConfigMap ?? PROFILE_CONFIGMAP,
    onChange: (cm) => inputs.setProfileConfigMap(cm),
    log,
    restartDelayMs,
  });
  const nodes = watchObjects<V1Node>({
    kc,
    name: 'nodes',
    path: '/api/v1/nodes',
    list: () => core.listNode({ labelSelector: SITE_LABEL }),
    labelSelector: SITE_LABEL,
    onChange: (all) => inputs.setNodes(all.flatMap((n) => nodeView(n) ?? [])),
    log,
    restartDelayMs,
  });
  return {
    synced: Promise.all([profile.synced, nodes.synced]).then(() => undefined),
    lists: () => ({ profile: profile.lists(), nodes: nodes.lists() }),
    async stop() {
      await Promise.all([profile.stop(), nodes.stop()]);
    },
  };
}
