// Wires the proxy's parts together: profile, scheduler, metrics, listeners and the admin API. main.ts
// adds the process concerns (env, signals); tests start this in-process on port 0.
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../skeleton/logger.ts';
import { metricsText } from '../skeleton/metrics-text.ts';
import { loadProfile, PRESETS, ProfileError, parseProfileText } from '../topology/index.ts';
import { createAdminServer } from './admin.ts';
import type { LogLevel, ProxyConfig } from './config.ts';
import { seededRng } from './jitter.ts';
import { createMetrics } from './metrics.ts';
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

export async function startLinkProxy(config: ProxyConfig, log: Log): Promise<LinkProxyService> {
  const topology = await loadProfile(config.profile);
  const scheduler = new Scheduler();
  const metrics = createMetrics();
  scheduler.onLateness = (ns, cause) => {
    metrics.lateness.observe(ns / 1e9);
    if (cause) metrics.lateReleases.inc({ cause });
  };
  const rng = config.seed === undefined ? Math.random : seededRng(config.seed);
  const proxy = new LinkProxy(
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
    PRESETS[config.profile] ?? (await readFile(config.profile, 'utf8')),
  );
  await proxy.start();
  const admin = createAdminServer(proxy, {
    ready: () => proxy.routes.every((r) => r.listening || proxy.faultsOn(r).includes('refuse')),
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
    routes: proxy.describe().map((r) => `${r.listen} ${r.path} [${r.links.join('+')}] -> ${r.upstream}`),
  });
  if (config.lossMode === 'none' && topology.links.some((l) => l.impairment.loss > 0)) {
    log(
      'info',
      'packet loss is not emulated by a TCP proxy (LOSS_MODE=rto approximates it); use the netem backend for loss',
    );
  }
  // A profile file (in the cluster: the link-profile ConfigMap, mounted) is re-read while running, so editing
  // it changes the links within PROFILE_POLL_SECONDS; an invalid edit is logged and the old profile stays.
  let poll: NodeJS.Timeout | undefined;
  if (!PRESETS[config.profile] && config.profilePollSeconds > 0) {
    let lastText = typeof proxy.profileDocument === 'string' ? proxy.profileDocument : '';
    poll = setInterval(async () => {
      let text: string;
      try {
        text = await readFile(config.profile, 'utf8');
      } catch (err) {
        return log('warn', 'cannot re-read the profile file', {
          file: config.profile,
          error: (err as Error).message,
        });
      }
      if (text === lastText) return;
      lastText = text;
      try {
        const next = parseProfileText(text, config.profile);
        const applied = proxy.setTopology(next, text);
        if (!applied.ok) throw new ProfileError(config.profile, applied.problems);
        metrics.profileChanges.inc({ outcome: 'applied' });
        log('info', 'profile file changed: applied', { profile: next.name, file: config.profile });
      } catch (err) {
        metrics.profileChanges.inc({ outcome: 'rejected' });
        log('error', 'profile file changed but is invalid: the old profile stays in force', {
          file: config.profile,
          profile: proxy.topology.name,
          error: (err as Error).message,
        });
      }
    }, config.profilePollSeconds * 1000);
    poll.unref();
  }
  return {
    proxy,
    admin,
    adminPort,
    routePorts: () => proxy.routes.map((r) => r.port()),
    async stop(timeoutSeconds = 0) {
      if (poll) clearInterval(poll);
      await proxy.close(timeoutSeconds * 1000);
      admin.closeAllConnections();
      await new Promise<void>((resolve) => admin.close(() => resolve()));
      scheduler.close();
    },
  };
}
