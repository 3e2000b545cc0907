// What the fidelity benchmark starts and reads: the echo server, the link proxy (this checkout's, or another's
// for an A/B) and Toxiproxy on loopback, a delay configured on each, a process's CPU use from /proc, and the
// percentile it reports. Loopback only.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
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
  cwd = ROOT,
): ChildProcess {
  return start(
    name,
    process.execPath,
    ['services/link-proxy/main.ts'],
    {
      HOST: '127.0.0.1',
      ADMIN_PORT: String(ports.adminPort),
      ROUTES: `127.0.0.1:${ports.port}=ue->edge=127.0.0.1:${ports.upstreamPort}`,
      LOG_LEVEL: 'warn',
    },
    cwd,
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
function startToxiproxy(bin: string, adminPort: number): ChildProcess {
  return start('toxiproxy', bin, ['-host', '127.0.0.1', '-port', String(adminPort)], { LOG_LEVEL: 'error' });
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
 * Starts the echo server, the link proxy in front of it, another checkout's proxy where `compareDir` names one
 * and, where TOXIPROXY_BIN names a binary, Toxiproxy with a 0 ms route to it (null otherwise). Every process
 * is added to `children` as it starts, so the caller can stop them whatever happens next. Resolves once all of
 * them listen.
 */
export async function startEmulators(
  children: ChildProcess[],
  compareDir: string | undefined,
): Promise<{
  echoPort: number;
  proxy: Emulator;
  compare: Emulator | null;
  toxiproxy: (Emulator & { bin: string }) | null;
}> {
  const echoPort = await freePort();
  children.push(startEcho(echoPort));
  const proxy = { port: await freePort(), adminPort: await freePort() };
  const proxyChild = startProxy('proxy', { ...proxy, upstreamPort: echoPort });
  children.push(proxyChild);
  const other = compareDir ? { port: await freePort(), adminPort: await freePort() } : null;
  const otherChild = other ? startProxy('compare', { ...other, upstreamPort: echoPort }, compareDir) : null;
  if (otherChild) children.push(otherChild);
  const bin = process.env.TOXIPROXY_BIN ?? '';
  const toxi = bin !== '' && existsSync(bin) ? { port: await freePort(), adminPort: await freePort() } : null;
  const toxiChild = toxi ? startToxiproxy(bin, toxi.adminPort) : null;
  if (toxiChild) children.push(toxiChild);
  await Promise.all([
    waitPort(echoPort),
    waitPort(proxy.port),
    ...(other ? [waitPort(other.port)] : []),
    ...(toxi ? [waitPort(toxi.adminPort)] : []),
  ]);
  if (toxi) await addToxiproxyRoute(toxi.adminPort, toxi.port, echoPort);
  return {
    echoPort,
    proxy: { child: proxyChild, ...proxy },
    compare: other && otherChild ? { child: otherChild, ...other } : null,
    toxiproxy: toxi && toxiChild ? { child: toxiChild, bin, ...toxi } : null,
  };
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
