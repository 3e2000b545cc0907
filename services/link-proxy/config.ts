// The link proxy's configuration, from environment variables with command-line flags on top, validated at
// start: every bad value is reported at once, naming the variable, what it got and what is allowed. The
// variables go through the same validators as every other service's (services/skeleton/config.ts, which has
// no dependencies, so the proxy image ships that one file); only the routes and the flags are the proxy's own.
import { parseArgs } from 'node:util';
import {
  type ConfigSpec,
  type ConfigVar,
  describeConfig,
  enumVar,
  hostVar,
  integerVar,
  LOG_LEVELS,
  type LogLevel,
  parseConfigPartial,
} from '../skeleton/config.ts';
import { DEFAULT_PRESET, SITE_NAME } from '../topology/index.ts';
import type { RouteSpec } from './proxy.ts';
import { LOSS_MODES, type LossMode } from './schedule.ts';

export { LOG_LEVELS, type LogLevel };

export interface ProxyConfig {
  profile: string;
  routes: RouteSpec[];
  host: string;
  adminHost: string;
  adminPort: number;
  lossMode: LossMode;
  idleTimeoutSeconds: number;
  seed: number | undefined;
  logLevel: LogLevel;
  shutdownTimeoutSeconds: number;
  /** PROFILE_CONFIGMAP: the profile follows this ConfigMap through the API instead of PROFILE. */
  profileConfigMap: { namespace: string; name: string } | undefined;
}

/** Any non-empty text (a preset name or a file path: which one is decided when the profile is loaded). */
function textVar(name: string, description: string, defaultValue: string): ConfigVar<string> {
  return { name, description, defaultValue, parse: (raw) => ({ value: raw }) };
}

/** An optional whole number: unset means "none" (SEED: random draws). */
function optionalIntegerVar(
  name: string,
  description: string,
  min: number,
  max: number,
): ConfigVar<number | undefined> {
  const inner = integerVar(name, description, 0, min, max);
  return { name, description, defaultValue: undefined, parse: (raw) => inner.parse(raw) };
}

/** A ConfigMap named as namespace/name. */
const CONFIGMAP_REF = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The proxy's variables (flags, where there is one, win over them). */
export const proxyConfigSpec = {
  profile: textVar('PROFILE', 'preset name or YAML/JSON profile file (flag --profile)', DEFAULT_PRESET),
  routes: textVar(
    'ROUTES',
    'comma-separated route specs, at least one (flag --route, repeatable): ' +
      '[listenHost:]listenPort=from->to=upstreamHost:upstreamPort, e.g. 8081=ue->edge=127.0.0.1:9081,8082=ue->cloud=127.0.0.1:9082',
    '',
  ),
  host: hostVar('HOST', 'address route listeners bind when a spec names none', '0.0.0.0'),
  adminHost: hostVar('ADMIN_HOST', 'address of the admin API and /metrics (empty: HOST)', ''),
  adminPort: integerVar(
    'ADMIN_PORT',
    'port of the admin API and /metrics (flag --admin-port)',
    8474,
    0,
    65535,
  ),
  lossMode: enumVar(
    'LOSS_MODE',
    'a TCP proxy cannot drop packets: none ignores loss, rto holds a chunk 200 ms with the loss probability (an approximation)',
    'none' as LossMode,
    LOSS_MODES,
  ),
  idleTimeoutSeconds: integerVar(
    'IDLE_TIMEOUT_SECONDS',
    'a connection over which nothing crosses either way for this long is closed (FIN, then a reset if it stays open); longer than any keep-alive or answer time you expect (0: never)',
    60,
    0,
    86400,
  ),
  seed: optionalIntegerVar('SEED', 'replayable jitter draws (unset: random)', 0, 2 ** 32 - 1),
  logLevel: enumVar('LOG_LEVEL', 'lowest log level written', 'info' as LogLevel, LOG_LEVELS),
  shutdownTimeoutSeconds: integerVar(
    'SHUTDOWN_TIMEOUT_SECONDS',
    'seconds to let connections finish on SIGTERM',
    10,
    0,
    3600,
  ),
  profileConfigMap: {
    name: 'PROFILE_CONFIGMAP',
    description:
      'namespace/name of a ConfigMap whose key profile.yaml holds the profile: watched through the Kubernetes API (in a pod, or with KUBECONFIG), every valid change applied at once with connections kept; PROFILE is then not read (empty: PROFILE)',
    defaultValue: '',
    parse: (raw: string) =>
      raw === '' || CONFIGMAP_REF.test(raw)
        ? { value: raw }
        : { error: 'expected namespace/name, e.g. mec-testbed-system/link-profile' },
  },
} as const satisfies ConfigSpec;

export const USAGE = `node services/link-proxy/main.ts [--profile NAME|FILE] [--route SPEC]... [--admin-port N]

Environment (flags win):
${describeConfig(proxyConfigSpec)
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}`;

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
  // Flags win: they stand in for their variables, so a bad value is reported under the variable's rules.
  const merged = {
    ...env,
    ...(flags.profile === undefined ? {} : { PROFILE: flags.profile }),
    ...(flags['admin-port'] === undefined ? {} : { ADMIN_PORT: flags['admin-port'] }),
  };
  const { config: v, errors: varErrors } = parseConfigPartial(proxyConfigSpec, merged);
  errors.push(...varErrors);
  const specs =
    flags.route && flags.route.length > 0
      ? flags.route
      : v.routes
          .split(/[,\s]+/)
          .map((s) => s.trim())
          .filter(Boolean);
  const routes: RouteSpec[] = [];
  if (specs.length === 0) errors.push(`ROUTES is empty: give at least one route (--route or ROUTES)`);
  for (const spec of specs) {
    const r = parseRoute(spec, v.host);
    if (r.ok) routes.push(r.route);
    else errors.push(`ROUTES: ${r.error}`);
  }
  const ports = routes.map((r) => `${r.listenHost}:${r.listenPort}`).filter((p) => !p.endsWith(':0'));
  const dup = ports.find((p, i) => ports.indexOf(p) !== i);
  if (dup) errors.push(`ROUTES: two routes listen on ${dup}`);
  const config: ProxyConfig = {
    profile: v.profile,
    routes,
    host: v.host,
    adminHost: v.adminHost || v.host,
    adminPort: v.adminPort,
    lossMode: v.lossMode,
    idleTimeoutSeconds: v.idleTimeoutSeconds,
    seed: v.seed,
    logLevel: v.logLevel,
    shutdownTimeoutSeconds: v.shutdownTimeoutSeconds,
    profileConfigMap: v.profileConfigMap
      ? {
          namespace: v.profileConfigMap.split('/')[0] as string,
          name: v.profileConfigMap.split('/')[1] as string,
        }
      : undefined,
  };
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}
