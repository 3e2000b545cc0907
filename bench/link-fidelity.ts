// Fidelity of the link proxy's delay (a benchmark, not a test): for configured one-way delays of 1, 5, 20
// and 50 ms, without and with jitter, at 200 and 1000 requests/s, it measures small request/response round
// trips through the proxy and directly to the same echo server in the same run, and prints the error at p50
// and p99 of (through − direct) against the configured distribution. Toxiproxy, measured the same way, sits
// beside it when its binary is there (TOXIPROXY_BIN; `make bench-fidelity` builds it from its Go module).
// Loopback only, bounded durations. Targets: |p50 error| < 0.3 ms, |p99 error| < 1 ms at 1000 rps, and no
// worse than Toxiproxy at any point.
//
//   node bench/link-fidelity.ts [--quick] [--seconds N]
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { drawDelay, seededRng } from '../services/link-proxy/jitter.ts';
import type { Impairment } from '../services/topology/index.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: flags } = parseArgs({
  options: { quick: { type: 'boolean' }, seconds: { type: 'string' } },
});
const SECONDS = Number(flags.seconds ?? (flags.quick ? 1 : 3));
const ROUNDS = flags.quick ? 2 : 5;
const DELAYS_MS = [1, 5, 20, 50];
const RATES = [200, 1000];
const MESSAGE = 64;
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d) => process.stderr.write(`[${name}] ${d}`));
  return child;
}

async function waitPort(port: number, timeoutMs = 15_000): Promise<void> {
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

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/**
 * An open-loop load: requests at `rate`/s for `seconds`, each on an idle pooled connection (warmed, so no
 * handshake is measured), one outstanding request per connection. Returns round trips in ms.
 */
async function measure(port: number, rate: number, seconds: number, poolSize: number): Promise<number[]> {
  const pool: net.Socket[] = [];
  const idle: net.Socket[] = [];
  const pending = new Map<net.Socket, { t0: number; got: number }>();
  const rtts: number[] = [];
  for (let i = 0; i < poolSize; i++) {
    const s = await new Promise<net.Socket>((resolve, reject) => {
      const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(c));
      c.once('error', reject);
    });
    s.on('data', (d: Buffer) => {
      const p = pending.get(s);
      if (!p) return;
      p.got += d.length;
      if (p.got >= MESSAGE) {
        rtts.push(now() - p.t0);
        pending.delete(s);
        idle.push(s);
      }
    });
    pool.push(s);
  }
  // Warm every connection (the proxy's handshake emulation, JIT) before measuring.
  await Promise.all(
    pool.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.once('data', () => resolve());
          s.write(Buffer.alloc(MESSAGE, 97));
        }),
    ),
  );
  idle.push(...pool);
  const total = Math.round(rate * seconds);
  const start = now() + 5;
  let sent = 0;
  let skipped = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (sent < total && start + (sent * 1000) / rate <= t) {
        const s = idle.pop();
        sent++;
        if (!s) {
          skipped++;
          continue;
        }
        pending.set(s, { t0: now(), got: 0 });
        s.write(Buffer.alloc(MESSAGE, 98));
      }
      if (sent >= total) {
        const wait = () => (pending.size === 0 ? resolve() : setTimeout(wait, 5));
        wait();
      } else setTimeout(tick, 1);
    };
    tick();
  });
  for (const s of pool) s.destroy();
  if (skipped > 0) console.error(`  (${skipped} requests skipped: pool of ${poolSize} exhausted)`);
  return rtts.sort((a, b) => a - b);
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))] as number;

/** Quantiles of the configured added round trip (two independent one-way draws), by sampling the model. */
function expectedRtt(delayMs: number, jitterMs: number): { p50: number; p99: number } {
  const imp: Impairment = {
    latencySeconds: delayMs / 1e3,
    jitterSeconds: jitterMs / 1e3,
    distribution: 'uniform',
    loss: 0,
    rateBitsPerSecond: null,
  };
  const rng = seededRng(1);
  const xs = Array.from({ length: 200_000 }, () => (drawDelay(imp, rng) + drawDelay(imp, rng)) * 1e3).sort(
    (a, b) => a - b,
  );
  return { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) };
}

function profileFor(delayMs: number, jitterMs: number) {
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

async function http(method: string, url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok && res.status !== 409) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
}

async function main() {
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', () => {
    stopAll();
    process.exit(130);
  });
  try {
    const echoPort = await freePort();
    children.push(
      start('echo', process.execPath, [
        '-e',
        `require('node:net').createServer({ noDelay: true }, (s) => s.pipe(s)).listen(${echoPort}, '127.0.0.1')`,
      ]),
    );
    const proxyPort = await freePort();
    const proxyAdmin = await freePort();
    const proxy = start('proxy', process.execPath, ['services/link-proxy/main.ts'], {
      HOST: '127.0.0.1',
      ADMIN_PORT: String(proxyAdmin),
      ROUTES: `127.0.0.1:${proxyPort}=ue->edge=127.0.0.1:${echoPort}`,
      LOG_LEVEL: 'warn',
    });
    children.push(proxy);
    // The same proxy with setTimeout only (whole-millisecond timers), to show what the precise timer buys.
    const coarsePort = await freePort();
    const coarseAdmin = await freePort();
    children.push(
      start('proxy-coarse', process.execPath, ['services/link-proxy/main.ts'], {
        HOST: '127.0.0.1',
        ADMIN_PORT: String(coarseAdmin),
        ROUTES: `127.0.0.1:${coarsePort}=ue->edge=127.0.0.1:${echoPort}`,
        LOG_LEVEL: 'warn',
        TIMER_MODE: 'coarse',
      }),
    );
    const toxiBin = process.env.TOXIPROXY_BIN ?? '';
    const haveToxi = toxiBin !== '' && existsSync(toxiBin);
    const toxiPort = await freePort();
    const toxiAdmin = await freePort();
    let toxi: ChildProcess | undefined;
    if (haveToxi) {
      toxi = start('toxiproxy', toxiBin, ['-host', '127.0.0.1', '-port', String(toxiAdmin)], {
        LOG_LEVEL: 'error',
      });
      children.push(toxi);
    }
    await Promise.all([
      waitPort(echoPort),
      waitPort(proxyPort),
      waitPort(coarsePort),
      ...(haveToxi ? [waitPort(toxiAdmin)] : []),
    ]);
    if (haveToxi) {
      const api = `http://127.0.0.1:${toxiAdmin}`;
      await http('POST', `${api}/proxies`, {
        name: 'bench',
        listen: `127.0.0.1:${toxiPort}`,
        upstream: `127.0.0.1:${echoPort}`,
      });
      for (const stream of ['upstream', 'downstream'])
        await http('POST', `${api}/proxies/bench/toxics`, {
          name: `lat_${stream}`,
          type: 'latency',
          stream,
          attributes: { latency: 0, jitter: 0 },
        });
    }

    console.log(
      `link fidelity: round trip through − direct, vs configured (ms); ${SECONDS} s per point in ${ROUNDS} interleaved rounds, loopback`,
    );
    console.log(
      haveToxi
        ? `Toxiproxy: ${toxiBin}`
        : 'Toxiproxy: not measured (no binary: set TOXIPROXY_BIN, or run `make bench-fidelity` where Go can build it)',
    );
    // The floor: what the proxy adds with no delay configured (two extra socket hops per round trip).
    for (const rate of RATES) {
      await http('PUT', `http://127.0.0.1:${proxyAdmin}/api/v1/profile`, profileFor(0, 0));
      const d = await measure(echoPort, rate, SECONDS, 20);
      const p = await measure(proxyPort, rate, SECONDS, 20);
      console.log(
        `proxy overhead at 0 ms, ${rate} rps: p50 +${(quantile(p, 0.5) - quantile(d, 0.5)).toFixed(3)} ms, p99 +${(quantile(p, 0.99) - quantile(d, 0.99)).toFixed(3)} ms`,
      );
    }
    const header = [
      'one-way',
      'jitter',
      'rps',
      'n',
      'direct p50/p99',
      'want p50/p99',
      'proxy err p50',
      'p99',
      'cpu',
      'coarse p50',
      'p99',
      ...(haveToxi ? ['toxi err p50', 'p99', 'cpu'] : []),
      'target',
    ];
    const rows: string[][] = [];
    let met = 0;
    let points = 0;
    for (const rate of RATES) {
      for (const delay of DELAYS_MS) {
        for (const jitter of [0, delay / 5]) {
          const want = expectedRtt(delay, jitter);
          await http('PUT', `http://127.0.0.1:${proxyAdmin}/api/v1/profile`, profileFor(delay, jitter));
          // Toxiproxy takes whole milliseconds: a jitter below 1 ms cannot be configured there.
          const toxiOk = haveToxi && Number.isInteger(jitter);
          if (toxiOk) {
            for (const stream of ['upstream', 'downstream'])
              await http('POST', `http://127.0.0.1:${toxiAdmin}/proxies/bench/toxics/lat_${stream}`, {
                attributes: { latency: delay, jitter },
              });
          }
          const pool = Math.ceil((rate * (2 * delay + 2 * jitter + 5) * 2) / 1000) + 10;
          await http('PUT', `http://127.0.0.1:${coarseAdmin}/api/v1/profile`, profileFor(delay, jitter));
          // Interleaved rounds: the host's load drifts (other jobs share it), so each target gets its share of
          // every phase instead of one target getting a quiet minute and another a busy one.
          const direct: number[] = [];
          const through: number[] = [];
          const viaCoarse: number[] = [];
          const viaToxiRounds: number[] = [];
          let proxyCpuSeconds = 0;
          let toxiCpuSeconds = 0;
          for (let round = 0; round < ROUNDS; round++) {
            direct.push(...(await measure(echoPort, rate, SECONDS / ROUNDS, pool)));
            const cpu0 = cpuSeconds(proxy.pid);
            through.push(...(await measure(proxyPort, rate, SECONDS / ROUNDS, pool)));
            proxyCpuSeconds += cpuSeconds(proxy.pid) - cpu0;
            viaCoarse.push(...(await measure(coarsePort, rate, SECONDS / ROUNDS, pool)));
            if (toxiOk) {
              const c0 = cpuSeconds(toxi?.pid);
              viaToxiRounds.push(...(await measure(toxiPort, rate, SECONDS / ROUNDS, pool)));
              toxiCpuSeconds += cpuSeconds(toxi?.pid) - c0;
            }
          }
          for (const xs of [direct, through, viaCoarse, viaToxiRounds]) xs.sort((a, b) => a - b);
          const proxyCpu = proxyCpuSeconds / SECONDS;
          const err = (xs: number[], q: number, w: number) => quantile(xs, q) - quantile(direct, q) - w;
          const e50 = err(through, 0.5, want.p50);
          const e99 = err(through, 0.99, want.p99);
          let toxiCells: string[] = [];
          let t50 = Number.NaN;
          let t99 = Number.NaN;
          if (haveToxi) {
            if (toxiOk) {
              const viaToxi = viaToxiRounds;
              const toxiCpu = toxiCpuSeconds / SECONDS;
              t50 = err(viaToxi, 0.5, want.p50);
              t99 = err(viaToxi, 0.99, want.p99);
              toxiCells = [t50.toFixed(3), t99.toFixed(3), `${Math.round(toxiCpu * 100)}%`];
            } else toxiCells = ['n/a (ms only)', '', ''];
          }
          points++;
          const targetMet =
            (rate < 1000 || (Math.abs(e50) < 0.3 && Math.abs(e99) < 1)) &&
            (Number.isNaN(t50) || (Math.abs(e50) <= Math.abs(t50) && Math.abs(e99) <= Math.abs(t99)));
          if (targetMet) met++;
          const row = [
            `${delay}`,
            jitter ? `±${jitter} unif` : '0',
            `${rate}`,
            `${through.length}`,
            `${quantile(direct, 0.5).toFixed(3)}/${quantile(direct, 0.99).toFixed(3)}`,
            `${want.p50.toFixed(2)}/${want.p99.toFixed(2)}`,
            e50.toFixed(3),
            e99.toFixed(3),
            `${Math.round(proxyCpu * 100)}%`,
            err(viaCoarse, 0.5, want.p50).toFixed(3),
            err(viaCoarse, 0.99, want.p99).toFixed(3),
            ...toxiCells,
            targetMet ? 'met' : 'MISSED',
          ];
          rows.push(row);
          console.error(`  ${row.join('  ')}`);
        }
      }
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
    console.log(
      `\n${met}/${points} points meet the target (at 1000 rps: |p50 err| < 0.3 ms and |p99 err| < 1 ms; everywhere: no worse than Toxiproxy where it was measured).`,
    );
    console.log('cpu = share of one core the proxy process used while measured.');
  } finally {
    stopAll();
  }
}

await main();
