// Fidelity of the link proxy's delay (a benchmark, not a test). For configured one-way delays of 1, 5, 20 and
// 50 ms, without and with jitter (a fifth of the delay, uniform), at 200 and 1,000 requests/s, it sends 64-byte
// request/response round trips on warm connections through the proxy and directly to the same echo server,
// and, where present, through another checkout's proxy (--compare DIR, the A/B of a change) and Toxiproxy
// (TOXIPROXY_BIN; `make bench-fidelity` builds it from its Go module), interleaved in rounds so the host's
// drift hits all alike. The whole grid runs --runs times (default 3) and the median of the runs is judged
// against fidelity-target.ts. Loopback only, bounded durations.
//
// The error at p50/p99 is the measured percentile minus what an exact emulator would give: the direct round
// trips of the same stretch convolved with the model's two one-way draws (Monte Carlo with jitter.ts).
// Subtracting percentiles instead is only right without jitter: with it, the direct tail and skew show up as
// error of either sign. Each figure comes with its sampling noise (the 95% half-width of that percentile for
// an exact emulator with as many samples). Where tcpdump can capture on loopback (root), round trips are timed
// by the kernel (capture.ts), so the generator's own late wake-ups count against no one.
//
//   node bench/link-fidelity.ts [--runs N] [--compare DIR] [--seconds S] [--delays 1,5] [--rates 1000]
//                               [--no-capture] [--json FILE]
//   --compare DIR: a checkout with its own node_modules, e.g. `git worktree add ../old <commit> && (cd ../old
//   && npm ci)`; its proxy is configured through the same admin API.
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { drawDelay, type Rng, seededRng } from '../services/link-proxy/jitter.ts';
import { MEASURED_BYTE, openLoop } from '../services/loadgen/open-loop.ts';
import type { Impairment } from '../services/topology/index.ts';
import { captureAvailable, roundTrips, startCapture } from './capture.ts';
import { cpuSeconds, quantile, setProxyDelay, setToxiproxyDelay, startEmulators } from './emulators.ts';
import { P50_TARGET_MS, P99_TARGET_MS, TARGET_RATE, verdict } from './fidelity-target.ts';

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    compare: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    delays: { type: 'string', default: '1,5,20,50' },
    rates: { type: 'string', default: '200,1000' },
    'no-capture': { type: 'boolean' },
    json: { type: 'string' },
  },
});
const RUNS = Number(flags.runs);
const SECONDS = Number(flags.seconds);
const ROUNDS = 5;
const DELAYS_MS = flags.delays.split(',').map(Number);
const RATES = flags.rates.split(',').map(Number);
for (const [name, xs] of [
  ['--runs', [RUNS]],
  ['--seconds', [SECONDS]],
  ['--delays', DELAYS_MS],
  ['--rates', RATES],
] as const)
  if (!xs.every((x) => Number.isFinite(x) && x > 0)) throw new Error(`${name}: expected positive numbers`);
/** How round trips are timed: by the kernel's packet stamps where tcpdump can capture here, else by this process. */
const CAPTURE = flags['no-capture'] ? { ok: false as const, why: '--no-capture' } : captureAvailable();

type Label = 'proxy' | 'compare' | 'toxiproxy';
const LABELS: readonly Label[] = ['proxy', 'compare', 'toxiproxy'];

/** One emulator at one point: its errors (ms) and the share of one core it used while measured. */
interface Measured {
  p50: number;
  p99: number;
  cpu: number;
}

interface Point {
  delay: number;
  jitter: number;
  rate: number;
  n: number;
  noise: { p50: number; p99: number };
  /** Toxiproxy is absent where it was not measured: no binary, or a jitter below its whole milliseconds. */
  errors: Partial<Record<Label, Measured>>;
}

interface Run {
  load: string;
  timing: string;
  /** What each emulator adds with nothing configured: p50/p99 round trip minus the direct one (ms). */
  overhead: Array<{ rate: number; errors: Partial<Record<Label, Measured>> }>;
  points: Point[];
}

function impairment(delayMs: number, jitterMs: number): Impairment {
  return {
    latencySeconds: delayMs / 1e3,
    jitterSeconds: jitterMs / 1e3,
    distribution: 'uniform',
    loss: 0,
    rateBitsPerSecond: null,
  };
}

const SAMPLES = 200_000;

/**
 * Quantiles of what an exact emulator would measure: a direct round trip of this stretch plus the model's two
 * one-way draws (the two are independent). And how precisely `n` samples show them: a sample's p-quantile has
 * a rank about normal around p with sd √(p(1−p)/n), so the predicted quantiles at p ± 1.96 sd bound where an
 * exact emulator's measurement falls 95% of the time.
 */
function predictedRtt(direct: readonly number[], imp: Impairment, rng: Rng, n: number) {
  const xs = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    const d = direct[Math.floor(rng() * direct.length)] as number;
    xs[i] = d + (drawDelay(imp, rng) + drawDelay(imp, rng)) * 1e3;
  }
  xs.sort();
  const q = (p: number) => xs[Math.round(Math.min(1, Math.max(0, p)) * (SAMPLES - 1))] as number;
  const noise = (p: number) => {
    const sd = Math.sqrt((p * (1 - p)) / Math.max(1, n));
    return Math.max(q(p + 1.96 * sd) - q(p), q(p) - q(p - 1.96 * sd));
  };
  return { p50: q(0.5), p99: q(0.99), noise: { p50: noise(0.5), p99: noise(0.99) } };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Per point and emulator, the median of each figure over the runs. */
function medianRun(runs: Run[]): Run {
  const first = runs[0] as Run;
  const med = (ms: Array<Measured | undefined>): Measured | undefined => {
    const xs = ms.filter((m): m is Measured => m !== undefined);
    if (xs.length === 0) return undefined;
    return {
      p50: median(xs.map((m) => m.p50)),
      p99: median(xs.map((m) => m.p99)),
      cpu: median(xs.map((m) => m.cpu)),
    };
  };
  const errorsOf = (all: Array<Partial<Record<Label, Measured>>>) =>
    Object.fromEntries(
      LABELS.flatMap((l) => {
        const m = med(all.map((e) => e[l]));
        return m ? [[l, m]] : [];
      }),
    );
  return {
    load: runs.map((r) => r.load).join(' | '),
    timing: first.timing,
    overhead: first.overhead.map((o, i) => ({
      rate: o.rate,
      errors: errorsOf(runs.map((r) => r.overhead[i]?.errors ?? {})),
    })),
    points: first.points.map((p, i) => {
      const ps = runs.map((r) => r.points[i] as Point);
      return {
        ...p,
        n: median(ps.map((x) => x.n)),
        noise: { p50: median(ps.map((x) => x.noise.p50)), p99: median(ps.map((x) => x.noise.p99)) },
        errors: errorsOf(ps.map((x) => x.errors)),
      };
    }),
  };
}

/** Whether `label` meets the targets at a point (Toxiproxy is the reference, not judged). */
function judge(p: Point, label: 'proxy' | 'compare') {
  const e = p.errors[label];
  if (!e) return undefined;
  return verdict({ rate: p.rate, noise: p.noise, proxy: e, toxi: p.errors.toxiproxy ?? null });
}

function printTable(run: Run, have: Record<Label, boolean>): void {
  const f = (x: number | undefined) => (x === undefined ? '' : x.toFixed(2));
  const cpu = (m: Measured | undefined) => (m ? `${Math.round(m.cpu * 100)}%` : '');
  const shown = LABELS.filter((l) => have[l]);
  const header = [
    'one-way',
    'jitter',
    'rps',
    'noise ±p50/p99',
    ...shown.flatMap((l) => [`${l} p50`, 'p99', 'cpu']),
    'target: proxy',
    ...(have.compare ? ['compare'] : []),
  ];
  const cell = (p: Point, l: 'proxy' | 'compare') => {
    const v = judge(p, l);
    return v ? (v.met ? 'met' : 'MISSED') : '';
  };
  const rows = run.points.map((p) => [
    `${p.delay}`,
    p.jitter ? `±${p.jitter}` : '0',
    `${p.rate}`,
    `${f(p.noise.p50)}/${f(p.noise.p99)}`,
    ...shown.flatMap((l) =>
      p.errors[l] ? [f(p.errors[l]?.p50), f(p.errors[l]?.p99), cpu(p.errors[l])] : ['n/a', '', ''],
    ),
    cell(p, 'proxy'),
    ...(have.compare ? [cell(p, 'compare')] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  for (const o of run.overhead)
    console.log(
      `with 0 ms configured, at ${o.rate} rps, each adds p50/p99 (ms): ${shown.map((l) => `${l} ${f(o.errors[l]?.p50)}/${f(o.errors[l]?.p99)}`).join(', ')}`,
    );
  for (const l of ['proxy', 'compare'] as const) {
    if (!have[l]) continue;
    const met = run.points.filter((p) => judge(p, l)?.met).length;
    console.log(`${l}: ${met}/${run.points.length} points meet the target`);
    for (const p of run.points) {
      const v = judge(p, l);
      if (v && !v.met)
        console.log(`  missed at ${p.delay} ms ±${p.jitter}, ${p.rate} rps: ${v.misses.join('; ')}`);
    }
  }
  console.log(
    `target: at ${TARGET_RATE} rps |p50 err| < ${P50_TARGET_MS} ms and |p99 err| < ${P99_TARGET_MS} ms; everywhere no worse than Toxiproxy by more than the noise. err = measured − (direct ⊕ model), ms; noise = the 95% half-width of that percentile for an exact emulator; cpu = share of one core while measured.`,
  );
}

const loadAverage = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

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
    const { echoPort, proxy, compare, toxiproxy } = await startEmulators(children, flags.compare);
    type Target = {
      label: Label;
      port: number;
      pid: number | undefined;
      set: (d: number, j: number) => Promise<void>;
    };
    const targets: Target[] = [
      {
        label: 'proxy',
        port: proxy.port,
        pid: proxy.child.pid,
        set: (d, j) => setProxyDelay(proxy.adminPort, d, j),
      },
      ...(compare
        ? [
            {
              label: 'compare' as const,
              port: compare.port,
              pid: compare.child.pid,
              set: (d: number, j: number) => setProxyDelay(compare.adminPort, d, j),
            },
          ]
        : []),
      ...(toxiproxy
        ? [
            {
              label: 'toxiproxy' as const,
              port: toxiproxy.port,
              pid: toxiproxy.child.pid,
              set: (d: number, j: number) => setToxiproxyDelay(toxiproxy.adminPort, d, j),
            },
          ]
        : []),
    ];
    const have = { proxy: true, compare: compare !== null, toxiproxy: toxiproxy !== null };
    console.log(
      `link fidelity: ${RUNS} run(s), ${SECONDS} s per point and emulator in ${ROUNDS} interleaved rounds, loopback; ` +
        `compare: ${flags.compare ?? 'none'}; Toxiproxy: ${toxiproxy?.bin ?? 'not measured (set TOXIPROXY_BIN, or run make bench-fidelity where Go can build it)'}`,
    );
    console.log(
      CAPTURE.ok
        ? 'round trips timed by the kernel: tcpdump on loopback, request packet to answer packet'
        : `round trips timed by the generator (its own late wake-ups count against every emulator): ${CAPTURE.why}`,
    );
    // Unmeasured warm-up, so no point is measured while the JIT compiles an emulator's delayed path.
    for (const t of targets) {
      for (const jitter of [0, 1]) {
        await t.set(1, jitter);
        await openLoop({ port: t.port, rate: Math.max(...RATES), seconds: 1.5, poolSize: 30 });
      }
    }
    const runs: Run[] = [];
    const rng = seededRng(2);
    /** One stretch: every target and the direct path in interleaved rounds, one capture; sorted round trips. */
    const stretch = async (active: Target[], rate: number, pool: number) => {
      const capture = CAPTURE.ok ? await startCapture([echoPort, ...active.map((t) => t.port)]) : null;
      const taken = new Map<string, { port: number; clients: Set<number>; rtts: number[]; cpu: number }>();
      const measure = async (label: string, port: number, pid?: number) => {
        const t = taken.get(label) ?? { port, clients: new Set<number>(), rtts: [], cpu: 0 };
        taken.set(label, t);
        const cpu0 = cpuSeconds(pid);
        t.rtts.push(
          ...(await openLoop({
            port,
            rate,
            seconds: SECONDS / ROUNDS,
            poolSize: pool,
            clientPorts: t.clients,
          })),
        );
        t.cpu += cpuSeconds(pid) - cpu0;
      };
      for (let round = 0; round < ROUNDS; round++) {
        await measure('direct', echoPort);
        for (const t of active) await measure(t.label, t.port, t.pid);
      }
      const segments = capture ? await capture.stop() : null;
      const out = new Map<string, { rtts: number[]; cpu: number }>();
      for (const [label, t] of taken) {
        const kernel = segments ? roundTrips(segments, t.port, MEASURED_BYTE, t.clients) : null;
        const complete = kernel !== null && kernel.length >= 0.95 * t.rtts.length;
        if (kernel && !complete)
          console.error(
            `  (${label}: the capture saw ${kernel.length} of ${t.rtts.length}: generator timing used)`,
          );
        out.set(label, {
          rtts: [...(complete ? kernel : t.rtts)].sort((a, b) => a - b),
          cpu: t.cpu / SECONDS,
        });
      }
      return out;
    };
    for (let run = 1; run <= RUNS; run++) {
      const loadBefore = loadAverage();
      const overhead: Run['overhead'] = [];
      for (const rate of RATES) {
        for (const t of targets) await t.set(0, 0);
        const got = await stretch(targets, rate, 20);
        const direct = got.get('direct')?.rtts ?? [];
        const errors: Partial<Record<Label, Measured>> = {};
        for (const t of targets) {
          const x = got.get(t.label);
          if (x)
            errors[t.label] = {
              p50: quantile(x.rtts, 0.5) - quantile(direct, 0.5),
              p99: quantile(x.rtts, 0.99) - quantile(direct, 0.99),
              cpu: x.cpu,
            };
        }
        overhead.push({ rate, errors });
      }
      const points: Point[] = [];
      for (const rate of RATES) {
        for (const delay of DELAYS_MS) {
          for (const jitter of [0, delay / 5]) {
            // Toxiproxy takes whole milliseconds: a jitter below 1 ms cannot be configured there.
            const active = targets.filter((t) => t.label !== 'toxiproxy' || Number.isInteger(jitter));
            for (const t of active) await t.set(delay, jitter);
            const pool = Math.ceil((rate * (2 * delay + 2 * jitter + 5) * 2) / 1000) + 10;
            const got = await stretch(active, rate, pool);
            const direct = got.get('direct')?.rtts ?? [];
            const imp = impairment(delay, jitter);
            const through = got.get('proxy')?.rtts ?? [];
            const { noise, ...predicted } = predictedRtt(direct, imp, rng, through.length);
            const errors: Partial<Record<Label, Measured>> = {};
            for (const t of active) {
              const x = got.get(t.label);
              if (x)
                errors[t.label] = {
                  p50: quantile(x.rtts, 0.5) - predicted.p50,
                  p99: quantile(x.rtts, 0.99) - predicted.p99,
                  cpu: x.cpu,
                };
            }
            const point: Point = { delay, jitter, rate, n: through.length, noise, errors };
            points.push(point);
            console.error(
              `  run ${run}: ${delay} ms ±${jitter} at ${rate} rps: ${active.map((t) => `${t.label} ${errors[t.label]?.p50.toFixed(3)}/${errors[t.label]?.p99.toFixed(3)}`).join(', ')}`,
            );
          }
        }
      }
      runs.push({
        load: `${loadBefore} → ${loadAverage()}`,
        timing: CAPTURE.ok ? 'kernel (tcpdump)' : `generator (${CAPTURE.why})`,
        overhead,
        points,
      });
    }
    const result = medianRun(runs);
    console.log(`\nmedian of ${RUNS} run(s); load averages: ${result.load}`);
    printTable(result, have);
    if (flags.json) writeFileSync(flags.json, `${JSON.stringify({ runs, median: result }, null, 1)}\n`);
  } finally {
    stopAll();
  }
}

await main();
