// The link proxy's configuration, from environment variables with command-line flags on top, validated at
// start: every bad value is reported at once, naming the variable, what it got and what is allowed.
import { parseArgs } from 'node:util';
import { DEFAULT_PRESET, SITE_NAME } from '../topology/index.ts';
import type { RouteSpec } from './proxy.ts';
import { LOSS_MODES, type LossMode } from './schedule.ts';
import { DEFAULT_EARLY_NS, DEFAULT_MAX_ADVANCE_NS, TIMER_MODES, type TimerMode } from './timer.ts';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ProxyConfig {
  profile: string;
  routes: RouteSpec[];
  host: string;
  adminHost: string;
  adminPort: number;
  lossMode: LossMode;
  timerMode: TimerMode;
  timerEarlyNs: number;
  timerMaxAdvanceNs: number;
  seed: number | undefined;
  logLevel: LogLevel;
  shutdownTimeoutSeconds: number;
  profilePollSeconds: number;
}

export const USAGE = `node services/link-proxy/main.ts [--profile NAME|FILE] [--route SPEC]... [--admin-port N]

Environment (flags win):
  PROFILE                  preset name or YAML/JSON file (default ${DEFAULT_PRESET})       --profile
  ROUTES                   comma-separated route specs (at least one)                 --route (repeatable)
                           SPEC = [listenHost:]listenPort=from->to=upstreamHost:upstreamPort
                           e.g. 8081=ue->edge=127.0.0.1:9081,8082=ue->cloud=127.0.0.1:9082
  HOST                     address route listeners bind when a spec names none (default 0.0.0.0)
  ADMIN_HOST, ADMIN_PORT   admin API and /metrics (default HOST, 8474)                 --admin-port
  LOSS_MODE                none | rto: a TCP proxy cannot drop packets; rto holds a chunk 200 ms with
                           the loss probability, an approximation (default none)
  TIMER_MODE               precise | coarse | spin (default precise)
  TIMER_EARLY_US           precise mode: wake this long before a deadline, spin the rest; a start value,
                           it adapts within 50–300 µs to how late wake-ups arrive (default 100)
  TIMER_MAX_ADVANCE_US     release at most this early to cancel the timer's own median lateness
                           (default 50; 0 = never early)
  SEED                     integer: replayable jitter draws (default: random)
  LOG_LEVEL                debug | info | warn | error (default info)
  SHUTDOWN_TIMEOUT_SECONDS seconds to let connections finish on SIGTERM (default 10)
  PROFILE_POLL_SECONDS     when PROFILE is a file (e.g. a mounted ConfigMap), re-read it this often and
                           apply a changed one if valid, else keep the old (default 2; 0 = never)`;

const HOST = /^[A-Za-z0-9.:-]{1,253}$/;
const ROUTE = /^(?:(.+):)?(\d{1,5})=([^=]+)->([^=]+)=(.+):(\d{1,5})$/;

/** Parses one route spec. Pure. */
export function parseRoute(
  spec: string,
  defaultHost: string,
): { ok: true; route: RouteSpec } | { ok: false; error: string } {
  const m = ROUTE.exec(spec.trim());
  const bad = (why: string) => ({
    ok: false as const,
    error: `route ${JSON.stringify(spec)}: ${why}; write [listenHost:]listenPort=from->to=upstreamHost:upstreamPort, e.g. 8081=ue->edge=127.0.0.1:9081`,
  });
  if (!m) return bad('not a route spec');
  const [, listenHost = defaultHost, listenPort, from, to, upstreamHost, upstreamPort] = m;
  const port = (p: string | undefined) => {
    const n = Number(p);
    return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
  };
  if (!HOST.test(listenHost))
    return bad(`listen host ${JSON.stringify(listenHost)} is not a host name or address`);
  if (!upstreamHost || !HOST.test(upstreamHost))
    return bad(`upstream host ${JSON.stringify(upstreamHost)} is not a host name or address`);
  const lp = port(listenPort);
  const up = port(upstreamPort);
  if (lp === undefined || up === undefined || up === 0) return bad('ports are 0-65535 (upstream 1-65535)');
  for (const site of [from, to]) {
    if (!site || !SITE_NAME.test(site)) return bad(`${JSON.stringify(site)} is not a site name`);
  }
  if (from === to) return bad('from and to are the same site');
  return {
    ok: true,
    route: {
      listenHost,
      listenPort: lp,
      from: from as string,
      to: to as string,
      upstreamHost: upstreamHost.replace(/^\[(.*)\]$/, '$1'),
      upstreamPort: up,
    },
  };
}

/** Environment plus argv into a config, or every problem found. Pure. */
export function parseProxyConfig(
  env: Readonly<Record<string, string | undefined>>,
  argv: readonly string[],
): { ok: true; config: ProxyConfig } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  let flags: { profile?: string; route?: string[]; 'admin-port'?: string; help?: boolean } = {};
  try {
    flags = parseArgs({
      args: [...argv],
      options: {
        profile: { type: 'string' },
        route: { type: 'string', multiple: true },
        'admin-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
  } catch (err) {
    errors.push((err as Error).message);
  }
  if (flags.help) return { ok: false, errors: [] };
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? undefined : v;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], dflt: T): T => {
    const v = get(name);
    if (v === undefined) return dflt;
    if ((allowed as readonly string[]).includes(v)) return v as T;
    errors.push(`${name}=${JSON.stringify(v)} is invalid: expected one of ${allowed.join(', ')}`);
    return dflt;
  };
  const integer = (name: string, raw: string | undefined, dflt: number, min: number, max: number) => {
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (/^\d+$/.test(raw) && n >= min && n <= max) return n;
    errors.push(`${name}=${JSON.stringify(raw)} is invalid: expected a whole number from ${min} to ${max}`);
    return dflt;
  };
  const host = get('HOST') ?? '0.0.0.0';
  if (!HOST.test(host))
    errors.push(`HOST=${JSON.stringify(host)} is invalid: expected an address such as 0.0.0.0`);
  const adminHost = get('ADMIN_HOST') ?? host;
  if (!HOST.test(adminHost))
    errors.push(`ADMIN_HOST=${JSON.stringify(adminHost)} is invalid: expected an address such as 127.0.0.1`);
  const adminPort = flags['admin-port']
    ? integer('--admin-port', flags['admin-port'], 8474, 0, 65535)
    : integer('ADMIN_PORT', get('ADMIN_PORT'), 8474, 0, 65535);
  const specs =
    flags.route && flags.route.length > 0
      ? flags.route
      : (get('ROUTES') ?? '')
          .split(/[,\s]+/)
          .map((s) => s.trim())
          .filter(Boolean);
  const routes: RouteSpec[] = [];
  if (specs.length === 0) errors.push(`ROUTES is empty: give at least one route (--route or ROUTES)`);
  for (const spec of specs) {
    const r = parseRoute(spec, host);
    if (r.ok) routes.push(r.route);
    else errors.push(`ROUTES: ${r.error}`);
  }
  const ports = routes.map((r) => `${r.listenHost}:${r.listenPort}`).filter((p) => !p.endsWith(':0'));
  const dup = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dup) errors.push(`ROUTES: two routes listen on ${dup}`);
  const seedRaw = get('SEED');
  const seed = seedRaw === undefined ? undefined : integer('SEED', seedRaw, 0, 0, 2 ** 32 - 1);
  const config: ProxyConfig = {
    profile: flags.profile ?? get('PROFILE') ?? DEFAULT_PRESET,
    routes,
    host,
    adminHost,
    adminPort,
    lossMode: oneOf('LOSS_MODE', LOSS_MODES, 'none'),
    timerMode: oneOf('TIMER_MODE', TIMER_MODES, 'precise'),
    timerEarlyNs: integer('TIMER_EARLY_US', get('TIMER_EARLY_US'), DEFAULT_EARLY_NS / 1000, 0, 5000) * 1000,
    timerMaxAdvanceNs:
      integer('TIMER_MAX_ADVANCE_US', get('TIMER_MAX_ADVANCE_US'), DEFAULT_MAX_ADVANCE_NS / 1000, 0, 1000) *
      1000,
    seed,
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownTimeoutSeconds: integer('SHUTDOWN_TIMEOUT_SECONDS', get('SHUTDOWN_TIMEOUT_SECONDS'), 10, 0, 3600),
    profilePollSeconds: integer('PROFILE_POLL_SECONDS', get('PROFILE_POLL_SECONDS'), 2, 0, 3600),
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}
