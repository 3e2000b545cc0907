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
import { ReleaseThread } from './release-thread.ts';
import { PreciseScheduler, setThreadNice } from './timer.ts';
import { setV8ThreadsNice } from './v8-threads.ts';

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
  // Before the scheduler starts its helper thread, which inherits the nice value.
  if (config.timerNice !== undefined) {
    const failed = setThreadNice(config.timerNice);
    if (failed)
      log('warn', 'TIMER_NICE not applied; releases keep the inherited priority', {
        nice: config.timerNice,
        error: failed,
        // Checked in Docker here: a container user other than root gets EACCES even with --cap-add SYS_NICE,
        // because added capabilities only reach root's effective set.
        fix: 'a nice below 0 needs CAP_SYS_NICE in effect (root, or root in a container with SYS_NICE added; a non-root container user does not get added capabilities) or an RLIMIT_NICE that allows it (docker run --ulimit nice=30 allows -10)',
      });
    else log('info', 'timer threads run at nice', { nice: config.timerNice });
  }
  const v8 = setV8ThreadsNice(config.v8ThreadsNice);
  if ('failed' in v8)
    log('warn', "V8_THREADS_NICE not applied; V8's background threads keep their priority", {
      nice: config.v8ThreadsNice,
      error: v8.failed,
    });
  else log('info', "V8's background threads run at nice", { nice: config.v8ThreadsNice, threads: v8.set });
  const scheduler = new PreciseScheduler({
    mode: config.timerMode,
    earlyNs: config.timerEarlyNs,
    maxAdvanceNs: config.timerMaxAdvanceNs,
  });
  // After the scheduler, whose constructor sets the timer slack this thread inherits.
  const releaser =
    config.timerMode === 'writer'
      ? new ReleaseThread({ earlyNs: config.timerEarlyNs, maxAdvanceNs: config.timerMaxAdvanceNs })
      : undefined;
  const metrics = createMetrics();
  const onLateness = (ns: number, cause: string | undefined) => {
    metrics.lateness.observe(ns / 1e9);
    if (cause) metrics.lateReleases.inc({ cause });
  };
  scheduler.onLateness = onLateness;
  if (releaser) {
    releaser.onFailure = (err) => {
      // Chunks it held are neither written nor back on the event loop: going on would lose or reorder bytes.
      log('error', 'the release thread failed; exiting, since the delayed chunks it held are lost', {
        error: err.message,
      });
      process.exit(1);
    };
    releaser.onLateness = onLateness;
    // Resolved once: prom-client hashes the label set on every call, and this runs per chunk.
    const outcomes = {
      written: metrics.threadReleases.labels({ outcome: 'written' }),
      handed_back: metrics.threadReleases.labels({ outcome: 'handed_back' }),
      failed: metrics.threadReleases.labels({ outcome: 'failed' }),
    };
    releaser.onOutcome = (o) => outcomes[o].inc();
  }
  // In writer mode the delayed chunks' timing is the release thread's.
  metrics.readTimer(() =>
    releaser
      ? { wakeLeadNs: releaser.wakeLeadNs, advanceNs: releaser.advanceNs }
      : { wakeLeadNs: scheduler.earlyNs, advanceNs: scheduler.advanceNs },
  );
  const rng = config.seed === undefined ? Math.random : seededRng(config.seed);
  const proxy = new LinkProxy(
    { scheduler, ...(releaser ? { releaser } : {}), metrics, rng, lossMode: config.lossMode, log },
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
    timerMode: config.timerMode,
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
      await releaser?.close();
    },
  };
}
