// Benchmark (a script, not a test): what the service skeleton costs. Drives the edge's echo route and a bare
// node:http server doing the same echo work with the same bytes on the wire, in the same run, on loopback, in
// alternating A/B rounds (order flipped every round) so drift in other load on this shared machine hits both:
//   1. saturation (wrk, closed loop): throughput, p50/p99, server CPU per request; ratio edge/bare;
//   2. a fixed offered rate, the same for both (wrk paced by a Lua schedule; default 85% of the edge's median
//      saturation throughput): achieved throughput, p50/p99, server CPU per request;
//   3. inspect throughput in megapixels per second, over HTTP and for the detector alone.
// Ratios are medians of per-round ratios. CPU per request (from /proc) is the capacity figure that other load on
// the machine moves least. Each server runs pinned to CPU 0 and the load tool to CPU 1 (when taskset exists).
// Wrap it in `flock /tmp/team/bench.lock` when other benchmarks may run on the machine.
//   node bench/services-throughput.ts [--duration 4] [--rounds 5] [--fixed-duration 4] [--rate auto|N] [--bytes 64]
//     [--connections 32] [--paced-connections 64] [--inspect-duration 10] [--inspect-size 1024]
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseQuery } from 'node:querystring';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { ECHO_MAX_BYTES, echoPayload } from '../services/workloads/echo/echo.ts';
import { detectDefects } from '../services/workloads/inspect/detect.ts';
import { goldenReference } from '../services/workloads/inspect/golden.ts';
import { encodeGrayPng, syntheticImage } from '../services/workloads/inspect/synthetic.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

interface LoadResult {
  requestsPerSecond: number;
  /** Server CPU time (user + system) per completed request, in microseconds (saturation runs only). */
  cpuMicrosPerRequest?: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

function pinned(cpu: number, command: string, args: string[]): [string, string[]] {
  return cpus().length >= 2 ? ['taskset', ['-c', String(cpu), command, ...args]] : [command, args];
}

async function startServer(kind: 'edge' | 'bare', port: number): Promise<ChildProcess> {
  const args =
    kind === 'edge'
      ? ['services/edge/main.ts']
      : [fileURLToPath(import.meta.url), '--bare-server', String(port)];
  const [command, argv] = pinned(0, process.execPath, args);
  const child = spawn(command, argv, {
    cwd: root,
    // The edge as deployed: default LOG_LEVEL (info: one JSON line per request), stdout to a pipe we drain.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', CLOUD_URL: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
  child.stdout?.resume();
  return child;
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** CPU seconds (user + system) the process has used so far, from /proc (Linux); NaN elsewhere. */
function cpuSeconds(pid: number | undefined): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return Number.NaN;
  }
}

/** A wrk run with the server's CPU time per request: unlike req/s, CPU time is not stolen by other processes on
 * a shared machine, so bare/edge CPU per request is the steadier capacity ratio. */
async function measured(server: ChildProcess, url: string, options: WrkOptions) {
  const before = cpuSeconds(server.pid);
  const result = await wrk(url, options);
  const cpu = cpuSeconds(server.pid) - before;
  return { ...result, cpuMicrosPerRequest: (cpu / result.requests) * 1e6 };
}

function millis(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  return Number(value) * (scale[unit] ?? Number.NaN);
}

// wrk paced to a fixed offered rate: every response asks delay() when to send the connection's next request, and
// delay() hands out send slots 1/rate apart on one clock (LuaJIT's FFI reads CLOCK_MONOTONIC). A server that
// keeps up gets exactly `rate`; one that cannot falls behind the slots, and the achieved rate shows how far
// (slots more than 100 ms late are dropped rather than sent in a burst). wrk's timers have 1 ms resolution, so
// requests leave in small per-millisecond groups; enough connections that `rate x latency` stays far below them.
const PACE_LUA = `
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } mec_timespec; int clock_gettime(int, mec_timespec *); ]]
local ts = ffi.new("mec_timespec")
local function now_ms() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6 end
local interval, nextSlot
function init(args) interval = 1000 / tonumber(args[1]) end
function delay()
  local t = now_ms()
  if nextSlot == nil or nextSlot < t - 100 then nextSlot = t end
  local slot = nextSlot
  nextSlot = nextSlot + interval
  local d = slot - t
  if d < 0 then return 0 end
  return math.floor(d)
end
`;

interface WrkOptions {
  seconds: number;
  connections: number;
  /** Offered requests per second; omitted: closed loop, as fast as the server answers (saturation). */
  rate?: number;
  paceScript?: string;
}

async function wrk(url: string, options: WrkOptions): Promise<LoadResult & { requests: number }> {
  const { seconds, connections, rate, paceScript } = options;
  const paced = rate !== undefined && paceScript ? ['-s', paceScript] : [];
  const [command, args] = pinned(1, 'wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    ...paced,
    url,
    ...(paced.length > 0 ? ['--', String(rate)] : []),
  ]);
  const { stdout } = await run(command, args, { maxBuffer: 1 << 20 });
  const latency = (p: string) => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)`, 'm').exec(stdout);
    return match ? millis(match[1] as string, match[2] as string) : Number.NaN;
  };
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? '0';
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    requests: Number(/(\d+) requests in/.exec(stdout)?.[1] ?? Number.NaN),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    errors: Number(errors) + (socketErrors ? socketErrors.slice(1).reduce((s, v) => s + Number(v), 0) : 0),
  };
}

/** hey with rate-limited workers: `rate` requests per second in total for `seconds`. */
async function fixedRate(
  url: string,
  seconds: number,
  rate: number,
  extra: string[] = [],
  workers = 10,
): Promise<LoadResult> {
  const perWorker = Math.max(1, Math.round(rate / workers));
  const [command, args] = pinned(1, 'hey', [
    '-z',
    `${seconds}s`,
    '-c',
    String(workers),
    '-q',
    String(perWorker),
    ...extra,
    url,
  ]);
  const { stdout } = await run(command, args, { maxBuffer: 16 << 20 });
  const latency = (p: string) => {
    const match = new RegExp(`^\\s*${p}% in ([\\d.]+) secs`, 'm').exec(stdout);
    return match ? Number(match[1]) * 1000 : Number.NaN;
  };
  const codes = [...stdout.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)];
  return {
    requestsPerSecond: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? Number.NaN),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    // Non-200 answers plus transport errors (hey lists those under "Error distribution" as "[N] message").
    errors:
      codes.filter(([, code]) => code !== '200').reduce((sum, [, , n]) => sum + Number(n), 0) +
      [...(stdout.split('Error distribution:')[1] ?? '').matchAll(/\[(\d+)\]/g)].reduce(
        (sum, m) => sum + Number(m[1]),
        0,
      ),
  };
}

/** hey prints no 99th percentile when a run has too few requests: say so instead of NaN. */
function ms(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a';
}

function row(name: string, r: LoadResult): string {
  const cpu =
    r.cpuMicrosPerRequest === undefined
      ? ''
      : `   CPU ${r.cpuMicrosPerRequest.toFixed(1).padStart(5)} us/req`;
  return `  ${name.padEnd(16)} ${r.requestsPerSecond.toFixed(0).padStart(7)} req/s   p50 ${ms(r.p50Ms).padStart(6)} ms   p99 ${ms(r.p99Ms).padStart(6)} ms${cpu}   errors ${r.errors}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function summary(runs: LoadResult[]): LoadResult {
  return {
    requestsPerSecond: median(runs.map((r) => r.requestsPerSecond)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuMicrosPerRequest: median(runs.map((r) => r.cpuMicrosPerRequest ?? Number.NaN)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
  };
}

type Pair = Record<'bare' | 'edge', LoadResult[]>;

/** `rounds` A/B rounds; the order flips every round so drift in other load on the machine hits both alike. */
async function alternate(
  servers: Record<'bare' | 'edge', { child: ChildProcess; url: string }>,
  rounds: number,
  options: WrkOptions,
): Promise<Pair> {
  const runs: Pair = { bare: [], edge: [] };
  for (let round = 0; round < rounds; round++) {
    const order: ('bare' | 'edge')[] = round % 2 === 0 ? ['bare', 'edge'] : ['edge', 'bare'];
    for (const kind of order) {
      const { child, url } = servers[kind];
      runs[kind].push(await measured(child, url, options));
    }
  }
  return runs;
}

/** Edge/bare per round (each round's two runs are seconds apart), then the median: least moved by other load. */
function ratioOf(runs: Pair, value: (r: LoadResult) => number): number {
  return median(runs.edge.map((r, i) => value(r) / value(runs.bare[i] as LoadResult)));
}

function load(): string {
  return loadavg()
    .map((v) => v.toFixed(2))
    .join(' ');
}

async function main() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '5' },
      'fixed-duration': { type: 'string', default: '4' },
      rate: { type: 'string', default: 'auto' },
      bytes: { type: 'string', default: '64' },
      connections: { type: 'string', default: '32' },
      'paced-connections': { type: 'string', default: '64' },
      'inspect-duration': { type: 'string', default: '10' },
      'inspect-size': { type: 'string', default: '1024' },
    },
  });
  const seconds = Number(values.duration);
  const rounds = Number(values.rounds);
  const fixedSeconds = Number(values['fixed-duration']);
  const bytes = Number(values.bytes);
  const connections = Number(values.connections);
  const pacedConnections = Number(values['paced-connections']);
  const inspectSeconds = Number(values['inspect-duration']);
  const side = Number(values['inspect-size']);
  for (const tool of ['wrk', 'hey']) {
    await run('sh', ['-c', `command -v ${tool}`]).catch(() => {
      throw new Error(`${tool} is needed (Debian: apt-get install -y ${tool})`);
    });
  }
  process.stdout.write(
    `services throughput bench: echo ${bytes} B; ${rounds} alternating rounds of ${seconds} s at saturation (${connections} connections) ` +
      `and ${fixedSeconds} s at a fixed rate (${values.rate}, ${pacedConnections} connections); servers on CPU 0, wrk on CPU 1; ` +
      `node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}); load average ${load()}\n`,
  );

  const path = `/api/v1/echo?bytes=${bytes}`;
  const paceDir = mkdtempSync(join(tmpdir(), 'mec-bench-'));
  const paceScript = join(paceDir, 'pace.lua');
  writeFileSync(paceScript, PACE_LUA);
  // Both servers stay up for the whole echo part.
  const bareServer = await startServer('bare', 18_901);
  const edgeServer = await startServer('edge', 18_902);
  const servers = {
    bare: { child: bareServer, url: `http://127.0.0.1:18901${path}` },
    edge: { child: edgeServer, url: `http://127.0.0.1:18902${path}` },
  };
  let saturation: Pair;
  let fixed: Pair;
  let rate: number;
  try {
    await wrk(servers.bare.url, { seconds: 2, connections }); // warm-up: JIT, connection setup
    await wrk(servers.edge.url, { seconds: 2, connections });
    saturation = await alternate(servers, rounds, { seconds, connections });
    // Near the edge's saturation by default, the same offered rate for both: the bare server has headroom there,
    // the edge little, which is where a skeleton's cost shows in latency and CPU.
    rate =
      values.rate === 'auto'
        ? Math.round((0.85 * median(saturation.edge.map((r) => r.requestsPerSecond))) / 100) * 100
        : Number(values.rate);
    fixed = await alternate(servers, rounds, {
      seconds: fixedSeconds,
      connections: pacedConnections,
      rate,
      paceScript,
    });
  } finally {
    await stopServer(bareServer);
    await stopServer(edgeServer);
    rmSync(paceDir, { recursive: true, force: true });
  }
  const rps = (r: LoadResult) => r.requestsPerSecond;
  const cpu = (r: LoadResult) => r.cpuMicrosPerRequest ?? Number.NaN;
  const satRatio = ratioOf(saturation, rps);
  const satCpuRatio = 1 / ratioOf(saturation, cpu);
  const fixedRatio = ratioOf(fixed, rps);
  const fixedCpuRatio = 1 / ratioOf(fixed, cpu);
  const list = (runs: LoadResult[]) => runs.map((r) => r.requestsPerSecond.toFixed(0)).join(' ');

  process.stdout.write(`\necho at saturation (wrk closed loop, medians of ${rounds} rounds):\n`);
  process.stdout.write(`${row('bare node:http', summary(saturation.bare))}\n`);
  process.stdout.write(`${row('edge service', summary(saturation.edge))}\n`);
  process.stdout.write(`  runs, req/s: bare ${list(saturation.bare)}; edge ${list(saturation.edge)}\n`);
  process.stdout.write(`\necho at a fixed offered ${rate} req/s (wrk paced, medians of ${rounds} rounds):\n`);
  process.stdout.write(`${row('bare node:http', summary(fixed.bare))}\n`);
  process.stdout.write(`${row('edge service', summary(fixed.edge))}\n`);
  process.stdout.write(`  runs, req/s: bare ${list(fixed.bare)}; edge ${list(fixed.edge)}\n`);
  process.stdout.write(
    `\nratios edge/bare (median of per-round ratios):\n` +
      `  throughput at saturation            ${satRatio.toFixed(2)}\n` +
      `  throughput at fixed ${String(rate).padEnd(6)} req/s    ${fixedRatio.toFixed(2)}   (1.00 = the edge kept up with the offered rate)\n` +
      `  capacity from CPU/request, saturation ${satCpuRatio.toFixed(2)}   (bare CPU/edge CPU per request; other load barely moves it)\n` +
      `  capacity from CPU/request, fixed rate ${fixedCpuRatio.toFixed(2)}\n` +
      `  load average at the end: ${load()}\n`,
  );

  // --- inspect: megapixels per second ------------------------------------------------------------------------
  const image = syntheticImage({ width: side, height: side, defects: 5, seed: 1 });
  const megapixels = (side * side) / 1e6;
  const reference = goldenReference(side, side);
  detectDefects(image, reference);
  const detectorRounds = 20;
  const started = performance.now();
  for (let i = 0; i < detectorRounds; i++) detectDefects(image, reference);
  const detectorMps = (detectorRounds * megapixels) / ((performance.now() - started) / 1000);

  const dir = mkdtempSync(join(tmpdir(), 'mec-bench-'));
  const pngFile = join(dir, 'part.png');
  const rawFile = join(dir, 'part.gray');
  writeFileSync(pngFile, encodeGrayPng(image));
  writeFileSync(rawFile, image.pixels);
  const server = await startServer('edge', 18_903);
  let pngResult: LoadResult;
  let rawResult: LoadResult;
  try {
    const base = 'http://127.0.0.1:18903/api/v1/inspect';
    // More than the server can do: the achieved rate is its capacity. Two workers keep one request queued.
    await fixedRate(base, 2, 1000, ['-m', 'POST', '-T', 'image/png', '-D', pngFile], 2);
    pngResult = await fixedRate(
      base,
      inspectSeconds,
      1000,
      ['-m', 'POST', '-T', 'image/png', '-D', pngFile],
      2,
    );
    rawResult = await fixedRate(
      `${base}?width=${side}&height=${side}`,
      inspectSeconds,
      1000,
      ['-m', 'POST', '-T', 'application/octet-stream', '-D', rawFile],
      2,
    );
  } finally {
    await stopServer(server);
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(
    `\ninspect, ${side}x${side} (${megapixels.toFixed(2)} MP) grey part with 5 defects, one CPU:\n`,
  );
  process.stdout.write(
    `  detector alone (diff, blur, threshold, components): ${detectorMps.toFixed(1)} MP/s\n`,
  );
  process.stdout.write(
    `  edge over HTTP, PNG body: ${(pngResult.requestsPerSecond * megapixels).toFixed(1)} MP/s ` +
      `(${pngResult.requestsPerSecond.toFixed(1)} req/s, p50 ${ms(pngResult.p50Ms, 1)} ms, p99 ${ms(pngResult.p99Ms, 1)} ms, errors ${pngResult.errors})\n`,
  );
  process.stdout.write(
    `  edge over HTTP, raw grey body: ${(rawResult.requestsPerSecond * megapixels).toFixed(1)} MP/s ` +
      `(${rawResult.requestsPerSecond.toFixed(1)} req/s, p50 ${ms(rawResult.p50Ms, 1)} ms, p99 ${ms(rawResult.p99Ms, 1)} ms, errors ${rawResult.errors})\n`,
  );
}

// --- the bare server: started as a child of this script with --bare-server PORT ---------------------------------
// The same work as the edge's echo and the same bytes on the wire: the query parsed by the parser express uses,
// the same validation, payload and headers (x-mec-site, a fresh x-request-id, Server-Timing, content type and
// length), so the ratio prices the framework and the skeleton's metrics/bookkeeping, not a smaller answer.
if (process.argv[2] === '--bare-server') {
  const server = createServer((req, res) => {
    const started = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const raw = q < 0 ? undefined : parseQuery(url.slice(q + 1)).bytes;
    const bytes =
      raw === undefined
        ? 64
        : typeof raw === 'string' && /^\d{1,7}$/.test(raw) && Number(raw) <= ECHO_MAX_BYTES
          ? Number(raw)
          : -1;
    if (pathname !== '/api/v1/echo' || bytes < 0) {
      res.writeHead(400).end();
      return;
    }
    const body = echoPayload(bytes);
    const incoming = req.headers['x-request-id'];
    res.writeHead(200, {
      'x-mec-site': 'edge',
      'x-request-id': typeof incoming === 'string' ? incoming : randomUUID(),
      'content-type': 'application/octet-stream',
      'content-length': body.length,
      'server-timing': `app;dur=${(performance.now() - started).toFixed(3)}`,
    });
    res.end(body);
  });
  server.listen(Number(process.argv[3]), '127.0.0.1', () => process.stdout.write('listening\n'));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else {
  // Last in the file: main() uses the module's constants, which must be initialised first.
  await main();
}
