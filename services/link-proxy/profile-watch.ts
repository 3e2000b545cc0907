// The cluster's way to give the proxies their profile (PROFILE_CONFIGMAP): the link-profile ConfigMap, watched
// through the API (services/kube/watch.ts), as the link agents watch it. A change reaches the proxy as soon as
// the API server sends it, and is swapped in like an admin PUT: open connections stay open and their next bytes
// cross the new links. Each version is parsed off the event loop (admin-profile.ts), one at a time, the latest
// winning; an invalid one is logged and counted, and the profile in force stays.
import { KubeConfig } from '@kubernetes/client-node';
import { profileText } from '../kube/profile.ts';
import { type ObjectWatch, watchConfigMap } from '../kube/watch.ts';
import { HttpError } from '../skeleton/http-error.ts';
import type { Topology } from '../topology/index.ts';
import { parseProfileOffLoop } from './admin-profile.ts';
import type { Log } from './service.ts';

/**
 * The parse's bound for a ConfigMap version. Longer than an admin PUT's: nobody waits on a connection for it, and
 * a pod starting under its CPU limit may need seconds for the worker's first parse; a bound it always missed would
 * retry forever, each retry starting a fresh worker as cold as the last.
 */
const WATCH_PARSE_TIMEOUT_MS = 30_000;

export interface ProfileWatch {
  /** The first valid profile the ConfigMap held (it waits for one, logging why meanwhile). */
  first: Promise<{ topology: Topology; text: string }>;
  stop(): Promise<void>;
}

/**
 * Follows `namespace/name`; `apply` gets every valid version after the first, and says whether it could be
 * swapped in (a profile may lack a site the routes need).
 */
export function watchProfile(o: {
  namespace: string;
  name: string;
  log: Log;
  apply: (topology: Topology, text: string) => { ok: true } | { ok: false; why: string };
  /** Counts each version applied or rejected after the first. */
  outcome?: (outcome: 'applied' | 'rejected') => void;
  kc?: KubeConfig;
  restartDelayMs?: number;
  /** The validator (tests stand in a busy one). */
  parse?: (text: string, source: string, timeoutMs: number) => Promise<Topology>;
}): ProfileWatch {
  const parse = o.parse ?? parseProfileOffLoop;
  const source = `ConfigMap ${o.namespace}/${o.name}`;
  let resolveFirst: (p: { topology: Topology; text: string }) => void = () => {};
  const first = new Promise<{ topology: Topology; text: string }>((r) => {
    resolveFirst = r;
  });
  let started = false;
  /** The text last seen, the text being parsed, and the last one parsed (valid or not). */
  let latest: string | undefined;
  let parsing = false;
  let done: string | undefined;
  /** Whether the validator's being busy was logged since the last outcome (once per version, not each retry). */
  let busyLogged = false;

  const next = async (): Promise<void> => {
    if (parsing || latest === undefined || latest === done) return;
    parsing = true;
    const text = latest;
    try {
      const topology = await parse(text, source, WATCH_PARSE_TIMEOUT_MS);
      busyLogged = false;
      done = text;
      if (!started) {
        started = true;
        o.log('info', 'profile read from the ConfigMap', {
          configMap: `${o.namespace}/${o.name}`,
          profile: topology.name,
        });
        resolveFirst({ topology, text });
      } else {
        const applied = o.apply(topology, text);
        o.outcome?.(applied.ok ? 'applied' : 'rejected');
        if (applied.ok)
          o.log('info', 'profile changed in the ConfigMap: applied', { profile: topology.name });
        else
          o.log('error', 'profile changed in the ConfigMap but does not fit the routes: the old one stays', {
            profile: topology.name,
            error: applied.why,
          });
      }
    } catch (err) {
      if (err instanceof HttpError && (err.status === 429 || err.status === 503)) {
        // Admin PUTs are being validated, or the host was too busy to parse it in time (a pod starting beside
        // others under its CPU limit): this version is tried again, not taken for an invalid one. Taken for
        // invalid, the first profile never came and the proxy never became ready.
        if (!busyLogged)
          o.log('warn', 'the profile validator is busy; trying the ConfigMap version again', {
            configMap: `${o.namespace}/${o.name}`,
            error: err.message,
          });
        busyLogged = true;
        setTimeout(() => void next(), 1000).unref();
        parsing = false;
        return;
      }
      busyLogged = false;
      done = text;
      if (started) o.outcome?.('rejected');
      o.log(
        'error',
        started
          ? 'profile changed in the ConfigMap but is invalid: the old one stays'
          : 'the ConfigMap holds no valid profile yet; waiting for one',
        {
          configMap: `${o.namespace}/${o.name}`,
          error: (err as Error).message,
        },
      );
    }
    parsing = false;
    await next();
  };

  const kc = o.kc ?? defaultKubeConfig();
  const watch: ObjectWatch = watchConfigMap({
    kc,
    namespace: o.namespace,
    name: o.name,
    onChange: (cm) => {
      const t = profileText(cm);
      if (!t.ok) {
        o.log(
          'warn',
          started
            ? `no profile in ${source}: ${t.why}; the profile in force stays`
            : `waiting for a profile in ${source}: ${t.why}`,
        );
        return;
      }
      latest = t.text;
      void next();
    },
    log: { warn: (msg, fields) => o.log('warn', msg, fields) },
    ...(o.restartDelayMs === undefined ? {} : { restartDelayMs: o.restartDelayMs }),
  });
  return { first, stop: () => watch.stop() };
}

/** In a pod: its service account; elsewhere: KUBECONFIG or ~/.kube/config. */
function defaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
