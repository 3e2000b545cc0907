// What the fidelity benchmarks share: starting the echo server, the link proxy and Toxiproxy on loopback,
// configuring a delay on each, reading the proxy's own timing from /metrics and a process's CPU use and
// run-queue wait from /proc, and the percentile they report. Loopback only.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { v8ThreadsOf } from '../services/link-proxy/v8-threads.ts';
import { emulatorCommand, type Placement } from './placement.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A bench's command line: whole-number flags, each with its default and range, and optional string flags.
 * Throws naming the first number out of range (or an unknown flag).
 */
export function benchFlags<N extends string, S extends string = never>(
  numbers: Record<N, { default: number; min: number; max: number }>,
  strings: readonly S[] = [],
): Record<N, number> & Partial<Record<S, string>> {
  const specs = Object.entries(numbers) as Array<[N, { default: number; min: number; max: number }]>;
  const { values } = parseArgs({
    // Every option is a string, so every value read below is a string or undefined.
    options: Object.fromEntries([
      ...specs.map(([name, spec]) => [name, { type: 'string' as const, default: String(spec.default) }]),
      ...strings.map((name) => [name, { type: 'string' as const }]),
    ]),
  }) as { values: Record<string, string | undefined> };
  const out: Record<string, number | string | undefined> = {};
  for (const [name, { min, max }] of specs) {
    const raw = values[name];
    const v = Number(raw);
    if (!(Number.isInteger(v) && v >= min && v <= max))
      throw new Error(`--${name} ${raw}: expected a whole number from ${min} to ${max}`);
    out[name] = v;
  }
  for (const name of strings) out[name] = values[name];
  return out as Record<N, number> & Partial<Record<S, string>>;
}

/** Spawns a child whose stderr is shown with its name; stdout is dropped. */
export function start(
  name: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
): ChildProcess {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  return child;
}

export async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP echo server on loopback, in its own process (its own event loop, as a real upstream has). */
function startEcho(port: number): ChildProcess {
  return start('echo', process.execPath, [
    '-e',
    `require('node:net').createServer({ noDelay: true }, (s) => s.pipe(s)).listen(${port}, '127.0.0.1')`,
  ]);
}

/** The link proxy with one route, ue->edge on `port` to the echo server; its admin API on `adminPort`. */
export function startProxy(
  name: string,
  ports: { port: number; adminPort: number; upstreamPort: number },
  options: { place?: Placement; env?: Record<string, string>; cwd?: string } = {},
): ChildProcess {
  return start(
    name,
    ...emulatorCommand(options.place ?? {}, process.execPath, ['services/link-proxy/main.ts']),
    {
      HOST: '127.0.0.1',
      ADMIN_PORT: String(ports.adminPort),
      ROUTES: `127.0.0.1:${ports.port}=ue->edge=127.0.0.1:${ports.upstreamPort}`,
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    options.cwd,
  );
}

/** The profile the benchmarks give the proxy: ue-edge delayed, uniform jitter, nothing else. */
export function profileFor(delayMs: number, jitterMs: number) {
  return {
    apiVersion: 'mec-testbed.dev/v1alpha1',
    kind: 'LinkProfile',
    name: 'bench',
    links: {
      'ue-edge': { latency: `${delayMs}ms`, jitter: `${jitterMs}ms`, distribution: 'uniform' },
      'edge-cloud': { latency: '0ms' },
    },
  };
}

export async function http(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok && res.status !== 409) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
}

/** Gives the running proxy a one-way delay (its admin API). */
export async function setProxyDelay(adminPort: number, delayMs: number, jitterMs: number): Promise<void> {
  await http('PUT', `http://127.0.0.1:${adminPort}/api/v1/profile`, profileFor(delayMs, jitterMs));
}

/** Starts Toxiproxy's server (`bin`) with its API on `adminPort`. */
function startToxiproxy(bin: string, adminPort: number, place: Placement): ChildProcess {
  return start(
    'toxiproxy',
    ...emulatorCommand(place, bin, ['-host', '127.0.0.1', '-port', String(adminPort)]),
    {
      LOG_LEVEL: 'error',
    },
  );
}

/** Creates Toxiproxy's proxy "bench" on `port` to the upstream, with a latency toxic each way (0 ms to start). */
async function addToxiproxyRoute(adminPort: number, port: number, upstreamPort: number): Promise<void> {
  const api = `http://127.0.0.1:${adminPort}`;
  await http('POST', `${api}/proxies`, {
    name: 'bench',
    listen: `127.0.0.1:${port}`,
    upstream: `127.0.0.1:${upstreamPort}`,
  });
  for (const stream of ['upstream', 'downstream'])
    await http('POST', `${api}/proxies/bench/toxics`, {
      name: `lat_${stream}`,
      type: 'latency',
      stream,
      attributes: { latency: 0, jitter: 0 },
    });
}

/** Sets both latency toxics (Toxiproxy takes whole milliseconds). */
export async function setToxiproxyDelay(adminPort: number, delayMs: number, jitterMs: number): Promise<void> {
  for (const stream of ['upstream', 'downstream'])
    await http('POST', `http://127.0.0.1:${adminPort}/proxies/bench/toxics/lat_${stream}`, {
      attributes: { latency: delayMs, jitter: jitterMs },
    });
}

/** An emulator the benchmarks started: its process, the port traffic goes through, its admin API's port. */
export interface Emulator {
  child: ChildProcess;
  port: number;
  adminPort: number;
}

/**
 * Starts the echo server, the link proxy in front of it and, where TOXIPROXY_BIN names a binary, Toxiproxy
 * with a 0 ms route to it (null otherwise); both emulators under SCHED_FIFO `rt` when it is set. Every process
 * is added to `children` as it starts, so the caller can stop them whatever happens next. Resolves once all of
 * them listen.
 */
export async function startEmulators(
  children: ChildProcess[],
  place: Placement,
): Promise<{ echoPort: number; proxy: Emulator; toxiproxy: (Emulator & { bin: string }) | null }> {
  const echoPort = await freePort();
  children.push(startEcho(echoPort));
  const proxy = { port: await freePort(), adminPort: await freePort() };
  const proxyChild = startProxy('proxy', { ...proxy, upstreamPort: echoPort }, { place });
  children.push(proxyChild);
  const bin = process.env.TOXIPROXY_BIN ?? '';
  const toxi = bin !== '' && existsSync(bin) ? { port: await freePort(), adminPort: await freePort() } : null;
  const toxiChild = toxi ? startToxiproxy(bin, toxi.adminPort, place) : null;
  if (toxiChild) children.push(toxiChild);
  await Promise.all([waitPort(echoPort), waitPort(proxy.port), ...(toxi ? [waitPort(toxi.adminPort)] : [])]);
  if (toxi) await addToxiproxyRoute(toxi.adminPort, toxi.port, echoPort);
  return {
    echoPort,
    proxy: { child: proxyChild, ...proxy },
    toxiproxy: toxi && toxiChild ? { child: toxiChild, bin, ...toxi } : null,
  };
}

/**
 * The proxy's own timing, from /metrics: its release-lateness histogram (cumulative counts per upper bound,
 * seconds) and its releases more than 1 ms late by cause (timer.ts lateCause).
 */
export interface ProxyTiming {
  buckets: Map<number, number>;
  causes: Map<string, number>;
}
export async function proxyTiming(adminPort: number): Promise<ProxyTiming> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(/^mec_link_proxy_release_lateness_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm))
    buckets.set(m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]), Number(m[2]));
  const causes = new Map<string, number>();
  for (const m of text.matchAll(/^mec_link_proxy_late_releases_total\{cause="([^"]+)"\} (\S+)$/gm))
    causes.set(m[1] as string, Number(m[2]));
  return { buckets, causes };
}

/** The q-quantile of ascending-sorted samples (nearest rank). */
export function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] as number;
}

/** User + system CPU ticks (1/100 s) of a /proc stat file: a process's or one thread's. */
function cpuTicks(statPath: string): number {
  const fields = readFileSync(statPath, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

/** CPU seconds a process has used (user + system), from /proc. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    return cpuTicks(`/proc/${pid}/stat`) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds a Node process's V8 background threads (JIT compiler, GC helpers) have used, user + system,
 * from /proc/<pid>/task. NaN where /proc cannot tell.
 */
export function v8CpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    return v8ThreadsOf(pid).reduce((sum, tid) => sum + cpuTicks(`/proc/${pid}/task/${tid}/stat`), 0) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * Seconds a process's main thread has spent runnable but waiting for a CPU (the run queue), from
 * /proc/<pid>/task/<pid>/schedstat (needs the kernel's sched info, present on common kernels); NaN without it.
 * The late-release causes showed that most of the proxy's late releases happen while it waits there.
 */
export function runQueueSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
  } catch {
    return Number.NaN;
  }
}
