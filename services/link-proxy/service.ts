// Wires the proxy's parts together: profile, scheduler, metrics, listeners and the admin API. main.ts
// adds the process concerns (env, signals); tests start this in-process on port 0.
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../skeleton/logger.ts';
import { metricsText } from '../skeleton/metrics-text.ts';
import { loadProfile, PRESETS, type Topology } from '../topology/index.ts';
import { createAdminServer } from './admin.ts';
import type { LogLevel, ProxyConfig } from './config.ts';
import { seededRng } from './jitter.ts';
import { createMetrics } from './metrics.ts';
import type { ProfileWatch } from './profile-watch.ts';
import { LinkProxy } from './proxy.ts';
import { Scheduler } from './timer.ts';

export type Log = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

/** The skeleton's JSON logger (one object per line on stdout, like every process) as the proxy's log function. */
export function jsonLog(level: LogLevel, write?: (line: string) => void): Log {
  const logger = createLogger(level, { service: 'link-proxy' }, write);
  return (lvl, msg, fields) => logger[lvl](msg, fields);
}

export interface LinkProxyService {
  proxy: LinkProxy;
  admin: http.Server;
  adminPort(): number;
  routePorts(): number[];
  stop(timeoutSeconds?: number): Promise<void>;
}

export async function startLinkProxy(
  config: ProxyConfig,
  log: Log,
  /** PROFILE_CONFIGMAP's API (default: in-cluster, or KUBECONFIG) and its pause after a failure (tests). */
  options: { kubeConfig?: KubeConfig; restartDelayMs?: number } = {},
): Promise<LinkProxyService> {
  const metrics = createMetrics();
  // In the cluster the profile follows the link-profile ConfigMap; elsewhere it is PROFILE, changed by the
  // admin API's PUT.
  let proxy: LinkProxy | undefined;
  let watch: ProfileWatch | undefined;
  let topology: Topology;
  let document: unknown;
  if (config.profileConfigMap) {
    // Loaded only here: the Kubernetes client is most of the proxy's memory, and make dev does not need it.
    const { watchProfile } = await import('./profile-watch.ts');
    watch = watchProfile({
      ...config.profileConfigMap,
      log,
      apply: (t, text) => {
        const applied = proxy?.setTopology(t, text) ?? { ok: false as const, problems: [] };
        return applied.ok ? applied : { ok: false, why: applied.problems.map((p) => p.message).join('; ') };
      },
      outcome: (outcome) => metrics.profileChanges.inc({ outcome }),
      ...(options.kubeConfig ? { kc: options.kubeConfig } : {}),
      ...(options.restartDelayMs === undefined ? {} : { restartDelayMs: options.restartDelayMs }),
    });
    ({ topology, text: document } = await watch.first);
  } else {
    topology = await loadProfile(config.profile);
    document = PRESETS[config.profile] ?? (await readFile(config.profile, 'utf8'));
  }
  const scheduler = new Scheduler();
  scheduler.onLateness = (ns, cause) => {
    metrics.lateness.observe(ns / 1e9);
    if (cause) metrics.lateReleases.inc({ cause });
  };
  const rng = config.seed === undefined ? Math.random : seededRng(config.seed);
  proxy = new LinkProxy(
    {
      scheduler,
      metrics,
      rng,
      lossMode: config.lossMode,
      idleTimeoutMs: config.idleTimeoutSeconds * 1000,
      log,
    },
    topology,
    config.routes,
    document,
  );
  const running = proxy;
  await running.start();
  const admin = createAdminServer(running, {
    ready: () => running.routes.every((r) => r.listening || running.faultsOn(r).includes('refuse')),
    metrics: async () => ({
      contentType: metrics.registry.contentType,
      body: await metricsText(metrics.registry),
    }),
  });
  await new Promise<void>((resolve, reject) => {
    admin.once('error', reject);
    admin.listen(config.adminPort, config.adminHost, () => resolve());
  });
  const adminPort = () => (admin.address() as AddressInfo).port;
  log('info', 'link proxy started', {
    profile: topology.name,
    admin: `${config.adminHost}:${adminPort()}`,
    lossMode: config.lossMode,
    idleTimeoutSeconds: config.idleTimeoutSeconds,
    timerSlack: scheduler.slackReduced ? '1us' : 'default (could not set /proc/self/timerslack_ns)',
    routes: running.describe().map((r) => `${r.listen} ${r.path} [${r.links.join('+')}] -> ${r.upstream}`),
  });
  if (config.lossMode === 'none' && topology.links.some((l) => l.impairment.loss > 0)) {
    log(
      'info',
      'packet loss is not emulated by a TCP proxy (LOSS_MODE=rto approximates it); use the netem backend for loss',
    );
  }
  return {
    proxy: running,
    admin,
    adminPort,
    routePorts: () => running.routes.map((r) => r.port()),
    async stop(timeoutSeconds = 0) {
      await watch?.stop();
      await running.close(timeoutSeconds * 1000);
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      scheduler.close();
    },
  };
}
