// Watches the two inputs of the agent with @kubernetes/client-node informers (list, then watch from the list's
// resourceVersion) and hands them to the reconciler:
// - the profile ConfigMap, listed and watched by name (fieldSelector metadata.name=link-profile, so RBAC may
//   grant it by resourceNames);
// - the Nodes carrying the site label (a node losing the label arrives as a deletion).
// client-node 2.0.1 (installed) has the fix for issue 3020 (2.0.0 aborted every watch after 30 s): its timeout
// now measures inactivity, and an inactive watch is reopened from the last resourceVersion. An expired
// resourceVersion (410 Gone) makes the informer list again by itself. Any other failure (API server restart,
// connection refused, 5xx) only emits `error`: the informer then stays stopped, so we start() it again after
// a pause, for as long as it takes, and make that start list again rather than watch from the old
// resourceVersion: a restarted API server may no longer serve it, and a fresh list also settles deletions
// missed meanwhile (the informer reports them as deletes).
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  type V1ConfigMap,
  type V1Node,
  Watch,
} from '@kubernetes/client-node';
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
  /** Pause before restarting an informer that reported an error. */
  restartDelayMs?: number;
  /** The informer's watch inactivity timeout (client-node's default is 30 s). */
  watchTimeoutMs?: number;
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
  const counts = { profile: 0, nodes: 0 };
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();

  const namespace = options.namespace ?? NAMESPACE;
  const profileName = options.profileConfigMap ?? PROFILE_CONFIGMAP;
  const profileSelector = `metadata.name=${profileName}`;
  const profile = informer<V1ConfigMap>(
    'profile',
    `/api/v1/namespaces/${namespace}/configmaps`,
    () => core.listNamespacedConfigMap({ namespace, fieldSelector: profileSelector }),
    undefined,
    profileSelector,
    () => inputs.setProfileConfigMap(profile.get(profileName, namespace)),
  );
  const nodes = informer<V1Node>(
    'nodes',
    '/api/v1/nodes',
    () => core.listNode({ labelSelector: SITE_LABEL }),
    SITE_LABEL,
    undefined,
    () => inputs.setNodes(nodes.list().flatMap((n) => nodeView(n) ?? [])),
  );

  function informer<T extends KubernetesObject>(
    name: 'profile' | 'nodes',
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    labelSelector: string | undefined,
    fieldSelector: string | undefined,
    changed: () => void,
  ): ListWatch<T> & { firstList: Promise<void> } {
    const watch = new Watch(kc);
    // `requestTimeoutMs` is private in the typings but is the documented knob of Watch at run time.
    if (options.watchTimeoutMs)
      (watch as unknown as { requestTimeoutMs: number }).requestTimeoutMs = options.watchTimeoutMs;
    let listed: () => void = () => {};
    const firstList = new Promise<void>((resolve) => {
      listed = resolve;
    });
    const lw = new ListWatch<T>(
      path,
      watch,
      async () => {
        const result = await list();
        counts[name]++;
        // The informer adds the listed items right after this resolves; report the whole set after that
        // (this also reports an absent profile ConfigMap, which no event would).
        setImmediate(() => {
          changed();
          listed();
        });
        return result as never;
      },
      false,
      labelSelector,
      fieldSelector,
    );
    lw.on('add', changed);
    lw.on('update', changed);
    lw.on('delete', changed);
    lw.on('error', (err: unknown) => {
      if (stopped) return;
      log.warn('watch failed; restarting', { informer: name, err: String(err), inMs: restartDelayMs });
      const t = setTimeout(() => {
        timers.delete(t);
        if (stopped) return;
        // ListWatch has no public way to ask for a list; its resourceVersion field is what start() checks.
        const state = lw as unknown as { resourceVersion?: unknown };
        if (typeof state.resourceVersion === 'string') state.resourceVersion = '';
        void lw.start();
      }, restartDelayMs);
      timers.add(t);
    });
    void lw.start();
    return Object.assign(lw, { firstList });
  }

  return {
    synced: Promise.all([profile.firstList, nodes.firstList]).then(() => undefined),
    lists: () => ({ ...counts }),
    async stop() {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      await Promise.all([profile.stop(), nodes.stop()]);
    },
  };
}
