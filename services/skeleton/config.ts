// Configuration from environment variables, validated once at start. Each variable is described by a small
// parser so the error a user meets names the variable, the value it got and what is allowed, and every bad
// variable is reported at once (fixing them one restart at a time is tedious).

export type Env = Readonly<Record<string, string | undefined>>;

/** Turns the raw string into a value, or returns `{ error }` saying what is allowed. */
export interface ConfigVar<T> {
  readonly name: string;
  readonly description: string;
  readonly defaultValue: T;
  parse(raw: string): { value: T } | { error: string };
}

export type ConfigSpec = Readonly<Record<string, ConfigVar<unknown>>>;
export type ConfigOf<S extends ConfigSpec> = {
  -readonly [K in keyof S]: S[K] extends ConfigVar<infer T> ? T : never;
};

export type ConfigResult<C> = { ok: true; config: C } | { ok: false; errors: string[] };

/** Pure: read every variable of `spec` from `env`; unset or empty variables take their default. */
export function parseConfig<S extends ConfigSpec>(spec: S, env: Env): ConfigResult<ConfigOf<S>> {
  const { config, errors } = parseConfigPartial(spec, env);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/**
 * Like parseConfig, but also returns the config when some variables are bad (those take their defaults), for
 * programs that check more on top (the proxy's routes need HOST) and want every problem in one report.
 */
export function parseConfigPartial<S extends ConfigSpec>(
  spec: S,
  env: Env,
): { config: ConfigOf<S>; errors: string[] } {
  const config: Record<string, unknown> = {};
  const errors: string[] = [];
  for (const [key, variable] of Object.entries(spec)) {
    const raw = env[variable.name];
    config[key] = variable.defaultValue;
    if (raw === undefined || raw.trim() === '') continue;
    const parsed = variable.parse(raw.trim());
    if ('error' in parsed) errors.push(`${variable.name}=${JSON.stringify(raw)} is invalid: ${parsed.error}`);
    else config[key] = parsed.value;
  }
  return { config: config as ConfigOf<S>, errors };
}

/** A number within [min, max], written as `pattern` allows, or an error naming the range. */
function rangeVar(
  spec: { name: string; description: string; defaultValue: number; min: number; max: number },
  pattern: RegExp,
  kind: string,
): ConfigVar<number> {
  const { min, max } = spec;
  return {
    ...spec,
    parse(raw) {
      const value = Number(raw);
      return pattern.test(raw) && Number.isFinite(value) && value >= min && value <= max
        ? { value }
        : { error: `expected ${kind} from ${min} to ${max}` };
    },
  };
}

export function integerVar(
  name: string,
  description: string,
  defaultValue: number,
  min: number,
  max: number,
): ConfigVar<number> {
  // Whole numbers only, and no more digits than a double holds exactly.
  return rangeVar({ name, description, defaultValue, min, max }, /^-?\d{1,15}$/, 'a whole number');
}

export function numberVar(
  name: string,
  description: string,
  defaultValue: number,
  min: number,
  max: number,
): ConfigVar<number> {
  return rangeVar({ name, description, defaultValue, min, max }, /^\d+(\.\d+)?$/, 'a number');
}

export function enumVar<const T extends string>(
  name: string,
  description: string,
  defaultValue: T,
  allowed: readonly T[],
): ConfigVar<T> {
  return {
    name,
    description,
    defaultValue,
    parse(raw) {
      const value = raw.toLowerCase();
      return (allowed as readonly string[]).includes(value)
        ? { value: value as T }
        : { error: `expected one of ${allowed.join(', ')}` };
    },
  };
}

export function hostVar(name: string, description: string, defaultValue: string): ConfigVar<string> {
  return {
    name,
    description,
    defaultValue,
    parse(raw) {
      // A hostname or an IPv4/IPv6 address to bind; no scheme, no port.
      return /^[A-Za-z0-9.:-]{1,253}$/.test(raw)
        ? { value: raw }
        : { error: 'expected a hostname or an IP address to listen on, e.g. 0.0.0.0 or 127.0.0.1' };
    },
  };
}

export function httpUrlVar(name: string, description: string, defaultValue: string): ConfigVar<string> {
  return {
    name,
    description,
    defaultValue,
    parse(raw) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        return { error: 'expected an absolute http:// or https:// URL, e.g. http://cloud:8080' };
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        return { error: `expected an http:// or https:// URL, got the scheme ${url.protocol}` };
      }
      if (url.search || url.hash) return { error: 'expected a URL without a query or fragment' };
      return { value: url.toString().replace(/\/+$/, '') };
    },
  };
}

/** Byte sizes accept a plain number of bytes or a binary suffix: 65536, 64Ki, 64Mi, 1Gi. */
export function bytesVar(
  name: string,
  description: string,
  defaultValue: number,
  min: number,
  max: number,
): ConfigVar<number> {
  const units: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };
  const allowed = `a byte count from ${min} to ${max} (suffixes Ki, Mi, Gi allowed, e.g. 64Mi)`;
  return {
    name,
    description,
    defaultValue,
    parse(raw) {
      const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(raw);
      if (!match) return { error: `expected ${allowed}` };
      const value = Number(match[1]) * (units[match[2] ?? ''] ?? 1);
      if (!Number.isSafeInteger(value) || value < min || value > max) return { error: `expected ${allowed}` };
      return { value };
    },
  };
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
// One JSON line per request costs about as much as an echo itself at thousands of requests per second, and the
// request metrics already count every request: by default only failed and slow requests are logged.
export const ACCESS_LOGS = ['all', 'errors', 'none'] as const;
export type AccessLog = (typeof ACCESS_LOGS)[number];

/** The variables every service reads. */
export const commonConfigSpec = {
  port: integerVar('PORT', 'TCP port to listen on (0 picks a free one)', 8080, 0, 65535),
  host: hostVar('HOST', 'address to listen on', '0.0.0.0'),
  logLevel: enumVar('LOG_LEVEL', 'lowest log level written', 'info' as LogLevel, LOG_LEVELS),
  accessLog: enumVar(
    'ACCESS_LOG',
    'which requests get an access-log line: all, errors (4xx/5xx and requests slower than 1 s), none',
    'errors' as AccessLog,
    ACCESS_LOGS,
  ),
  shutdownTimeoutSeconds: numberVar(
    'SHUTDOWN_TIMEOUT_SECONDS',
    'after SIGTERM, how long in-flight requests may take before connections are closed',
    10,
    0,
    600,
  ),
  requestTimeoutSeconds: numberVar(
    'REQUEST_TIMEOUT_SECONDS',
    'longest time a client may take to send a whole request (headers and body); slower clients get 408',
    30,
    1,
    600,
  ),
  headersTimeoutSeconds: numberVar(
    'HEADERS_TIMEOUT_SECONDS',
    'longest time a connection may take to send its request headers (408), or to send anything at all (closed); at most REQUEST_TIMEOUT_SECONDS',
    10,
    1,
    600,
  ),
  maxBodyBytes: bytesVar(
    'MAX_BODY_BYTES',
    'largest request body accepted (larger gets 413)',
    16 * 1024 ** 2,
    1,
    1024 ** 3,
  ),
  inspectMaxPixels: integerVar(
    'INSPECT_MAX_PIXELS',
    'largest image (width x height) the inspect workload decodes; it bounds the memory an inspect holds (services/workloads/README.md)',
    4096 * 2048,
    1,
    100_000_000,
  ),
} as const satisfies ConfigSpec;

export type CommonConfig = ConfigOf<typeof commonConfigSpec>;

/** Cross-variable rules that a single parser cannot check. */
export function checkCommonConfig(config: CommonConfig): string[] {
  const errors: string[] = [];
  if (config.headersTimeoutSeconds > config.requestTimeoutSeconds) {
    errors.push(
      `HEADERS_TIMEOUT_SECONDS (${config.headersTimeoutSeconds}) must not exceed REQUEST_TIMEOUT_SECONDS (${config.requestTimeoutSeconds})`,
    );
  }
  return errors;
}

/** A plain-text table of the variables, for READMEs and `--help`. */
export function describeConfig(spec: ConfigSpec): string {
  return Object.values(spec)
    .map((v) => {
      const dflt =
        v.defaultValue === undefined || v.defaultValue === '' ? 'none' : JSON.stringify(v.defaultValue);
      return `${v.name} (default ${dflt}): ${v.description}`;
    })
    .join('\n');
}
