// Watching Kubernetes objects with @kubernetes/client-node's informer (ListWatch: a list, then a watch from the
// list's resourceVersion), for the processes that follow the cluster: the link agent (the profile and the site
// nodes) and the link proxy (the profile).
// The informer reopens a watch that times out, and lists again by itself after 410 Gone. Any other failure (an
// API server restart, a refused connection, a 5xx) only emits `error`, after which it stays stopped. So an
// informer that fails is replaced, after a pause, by a new one, which lists first: a restarted API server may
// no longer serve the old resourceVersion, and a fresh list settles deletions missed meanwhile. The owner is
// told the whole set after every list and every event, so it never has to diff.
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  type V1ConfigMap,
  Watch,
} from '@kubernetes/client-node';

/** What the watch logs: a failed informer, and that it starts again. */
export interface WatchLog {
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface ObjectWatchOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** For logs. */
  name: string;
  /** The API path watched (`/api/v1/nodes`, `/api/v1/namespaces/<ns>/configmaps`). */
  path: string;
  /** The list that starts each informer, with the same selectors. */
  list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Every object the watch holds, after each list and each event. */
  onChange: (objects: readonly T[]) => void;
  log?: WatchLog;
  /** Pause before replacing an informer that failed. */
  restartDelayMs?: number;
}

export interface ObjectWatch {
  /** Resolves once the first list is in (and reported). */
  synced: Promise<void>;
  /** How many lists have been made (a replaced informer lists again). */
  lists(): number;
  stop(): Promise<void>;
}

export function watchObjects<T extends KubernetesObject>(o: ObjectWatchOptions<T>): ObjectWatch {
  const restartDelayMs = o.restartDelayMs ?? 2000;
  let lists = 0;
  let stopped = false;
  let current: ListWatch<T> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let synced: () => void = () => {};
  const first = new Promise<void>((resolve) => {
    synced = resolve;
  });

  const start = (): void => {
    const lw: ListWatch<T> = new ListWatch<T>(
      o.path,
      new Watch(o.kc),
      async () => {
        const result = await o.list();
        lists++;
        // The informer stores the listed items right after this resolves; report the whole set after that
        // (this also reports an empty list, which no event would).
        setImmediate(() => {
          if (lw !== current) return;
          o.onChange(lw.list());
          synced();
        });
        return result;
      },
      false,
      o.labelSelector,
      o.fieldSelector,
    );
    current = lw;
    const changed = () => {
      if (lw === current) o.onChange(lw.list());
    };
    lw.on('add', changed);
    lw.on('update', changed);
    lw.on('delete', changed);
    lw.on('error', (err: unknown) => {
      if (stopped || lw !== current) return;
      o.log?.warn('watch failed; starting again', {
        watch: o.name,
        error: String(err),
        inMs: restartDelayMs,
      });
      void lw.stop();
      timer = setTimeout(() => {
        timer = undefined;
        if (!stopped) start();
      }, restartDelayMs);
    });
    void lw.start();
  };
  start();

  return {
    synced: first,
    lists: () => lists,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current?.stop();
    },
  };
}

/**
 * One ConfigMap, listed and watched by name (fieldSelector metadata.name=…, so RBAC may grant it by
 * resourceNames). `onChange` gets it, or undefined while it does not exist.
 */
export function watchConfigMap(o: {
  kc: KubeConfig;
  namespace: string;
  name: string;
  onChange: (cm: V1ConfigMap | undefined) => void;
  log?: WatchLog;
  restartDelayMs?: number;
}): ObjectWatch {
  const core = o.kc.makeApiClient(CoreV1Api);
  const fieldSelector = `metadata.name=${o.name}`;
  return watchObjects<V1ConfigMap>({
    kc: o.kc,
    name: `configmap ${o.namespace}/${o.name}`,
    path: `/api/v1/namespaces/${o.namespace}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace: o.namespace, fieldSelector }),
    fieldSelector,
    onChange: (cms) => o.onChange(cms.find((cm) => cm.metadata?.name === o.name)),
    ...(o.log ? { log: o.log } : {}),
    ...(o.restartDelayMs === undefined ? {} : { restartDelayMs: o.restartDelayMs }),
  });
}
