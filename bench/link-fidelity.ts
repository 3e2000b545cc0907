// Fidelity of the link proxy's delay (a benchmark, not a test): for configured one-way delays of 1, 5, 20
// and 50 ms, without and with jitter, at 200 and 1000 requests/s, it measures small request/response round
// trips through the proxy and directly to the same echo server in the same run, and prints the error at p50
// and p99 against what the configuration predicts. Toxiproxy, measured the same way, sits beside it when its
// binary is there (TOXIPROXY_BIN; `make bench-fidelity` builds it from its Go module). Loopback only, bounded
// durations. Targets: |p50 error| < 0.3 ms, |p99 error| < 1 ms at 1000 rps, and no worse than Toxiproxy at
// any point by more than the percentiles' sampling noise (fidelity-target.ts).
//
// How the error is computed. A round trip through an ideal emulator is the direct round trip plus two
// independent one-way draws of the configured delay (latency ± jitter each way). So the prediction is the
// distribution of that sum — the direct samples of this run convolved with the model (Monte Carlo with the
// proxy's own jitter.ts draws) — and the error at p50/p99 is the measured percentile minus the predicted
// one. Subtracting percentiles instead (p99(through) − p99(direct) − p99(model)) is only right without
// jitter: with jitter, a skewed direct distribution shifts the median of the sum by its mean − median, and
// the direct tail no longer lines up with the sum's tail, so host noise shows up as (positive or negative)
// error. Both are printed; the convolved one is the one judged.
// The load generator is this process, not the proxy's (each has its own event loop); its own event-loop
// delay while measuring is printed (gen lag p99) so a tail it causes can be told from the proxy's. So are the
// host's wake-up floor (how often a bare sleeping thread is woken > 1 ms late, measured before anything
// starts), the share of the proxy's releases its own histogram saw run > 1 ms late, and Toxiproxy's error
// against the whole milliseconds it really draws (its timing alone, with its draw bias set apart).
// The environment reaches the proxy and Toxiproxy: `TIMER_MODE=spin` or `GOMAXPROCS=1` measure those settings.
//
//   node bench/link-fidelity.ts [--quick] [--seconds N] [--json FILE] [--coarse | --compare DIR | --variant ENV] [--no-capture]
//                               [--delays 1,5] [--rates 1000] [--rt N] [--pin CPUS]
//   --rt N runs the emulators (the proxy, its variant, Toxiproxy) under SCHED_FIFO priority N (`chrt -f N`,
//   root or CAP_SYS_NICE): what they do when no other process on the host can make them wait for a CPU.
//   --pin CPUS runs them on those CPUs and this process (the generator), the echo server and tcpdump on the
//   others: what a proxy pod with CPUs of its own gets from the static CPU manager (placement.ts).
//   --coarse adds the proxy with setTimeout-only timers (what the precise timer buys); --compare DIR adds the
//   proxy of another checkout (e.g. `git worktree add /tmp/old HEAD~3`), measured interleaved, for A/B;
//   --variant NAME=VALUE[,NAME=VALUE] adds this checkout's proxy with that environment (e.g. TIMER_MODE=spin,
//   or NODE_OPTIONS=--max-semi-space-size=64), the A/B of a setting.
//   node bench/link-fidelity.ts --median run1.json run2.json ...   (per point, the median of several runs)
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { drawDelay, type Rng, seededRng } from '../services/link-proxy/jitter.ts';
import { LATE_CAUSES, type LateCause, reduceTimerSlack } from '../services/link-proxy/timer.ts';
import type { Impairment } from '../services/topology/index.ts';
import { captureAvailable, roundTrips, type Segment, startCapture } from './capture.ts';
import {
  cpuSeconds,
  freePort,
  type ProxyTiming,
  proxyTiming,
  quantile,
  runQueueSeconds,
  setProxyDelay,
  setToxiproxyDelay,
  startEmulators,
  startProxy,
  v8CpuSeconds,
  waitPort,
} from './emulators.ts';
import { P50_TARGET_MS, P99_TARGET_MS, TARGET_RATE, verdict } from './fidelity-target.ts';
import { MEASURED_BYTE, openLoop } from './open-loop.ts';
import { describePlacement, placementFrom } from './placement.ts';

const { values: flags, positionals } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    seconds: { type: 'string' },
    json: { type: 'string' },
    median: { type: 'boolean' },
    coarse: { type: 'boolean' },
    'no-capture': { type: 'boolean' },
    compare: { type: 'string' },
    delays: { type: 'string' },
    rates: { type: 'string' },
    rt: { type: 'string' },
    pin: { type: 'string' },
    variant: { type: 'string' },
  },
  allowPositionals: true,
});
const SECONDS = Number(flags.seconds ?? (flags.quick ? 1 : 3));
const ROUNDS = flags.quick ? 2 : 5;
/** --variant NAME=VALUE[,NAME=VALUE]: the environment of a second proxy from this checkout, for A/B of settings. */
function parseVariant(raw: string): Record<string, string> {
  return Object.fromEntries(
    raw.split(',').map((kv) => {
      const eq = kv.indexOf('=');
      if (eq < 1) throw new Error(`--variant ${raw}: expected NAME=VALUE[,NAME=VALUE...]`);
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}
/** The optional third target: another checkout's proxy, this one's with other settings, or the coarse-timer one. */
const VARIANT = flags.compare
  ? { label: 'compare', cwd: flags.compare, env: {} as Record<string, string> }
  : flags.variant
    ? {
        label: flags.variant,
        cwd: undefined,
        env: parseVariant(flags.variant),
      }
    : flags.coarse
      ? { label: 'coarse', cwd: undefined, env: { TIMER_MODE: 'coarse' } as Record<string, string> }
      : null;
const list = (s: string | undefined, dflt: number[]) => (s ? s.split(',').map(Number) : dflt);
const DELAYS_MS = list(flags.delays, [1, 5, 20, 50]);
const RATES = list(flags.rates, [200, 1000]);
/** How round trips are timed: by the kernel's packet stamps where tcpdump can capture here, else by this process. */
const CAPTURE = flags['no-capture'] ? { ok: false as const, why: '--no-capture' } : captureAvailable();

/** --rt and --pin: where the emulators run (SCHED_FIFO, CPUs of their own). */
const PLACE = flags.median ? {} : placementFrom(flags);

/** The generator's own event-loop delay while measuring (p99, ms): a stall here is not the proxy's. */
const lag = monitorEventLoopDelay({ resolution: 1 });
const watchLag = () => {
  lag.enable();
  return () => lag.disable();
};

/** How long each emulator carries traffic with a delay before anything is measured (see warmUp). */
const WARM_UP_SECONDS = flags.quick ? 1 : 3;

/**
 * Runs every emulator through its delayed path (1 ms, then 1 ms ±1) at the highest rate of the run,
 * unmeasured, then back to no delay. Prints what each Node emulator's V8 threads (JIT compiler, GC helpers)
 * still did in the second half, in ms/s, and every point prints it again.
 * A longer warm-up does not quiet them: with 20 s each instead of 3 (fifth session, three runs) they still
 * ran 0-23 ms/s during the measured points, and the p99 errors were no better. Under steady traffic alone
 * they fall to 0-3 ms/s after 20-30 s, so what keeps them busy here is likely the bench itself: a profile
 * change and /metrics scrapes between stretches (not proven).
 */
async function warmUp(
  targets: Array<{
    label: string;
    port: number;
    pid?: number | undefined;
    set: (delayMs: number, jitterMs: number) => Promise<void>;
  }>,
): Promise<void> {
  const rate = Math.max(...RATES);
  const notes: string[] = [];
  for (const t of targets) {
    let v8MsPerS = Number.NaN;
    for (const jitter of [0, 1]) {
      await t.set(1, jitter);
      const v8 = v8CpuSeconds(t.pid);
      await openLoop({
        port: t.port,
        rate,
        seconds: WARM_UP_SECONDS / 2,
        poolSize: Math.ceil(rate / 100) + 10,
      });
      v8MsPerS = ((v8CpuSeconds(t.pid) - v8) / (WARM_UP_SECONDS / 2)) * 1e3;
    }
    await t.set(0, 0);
    if (t.pid)
      notes.push(`${t.label}'s V8 threads ${v8MsPerS.toFixed(1)} ms/s in the last ${WARM_UP_SECONDS / 2} s`);
  }
  console.log(
    `warm-up: ${targets.length} emulator(s), ${WARM_UP_SECONDS} s each at ${rate} rps with a 1 ms delay (±0 and ±1 in turn), not measured` +
      (notes.length > 0 ? `; ${notes.join(', ')}` : ''),
  );
}

/**
 * A stretch of measurements (one point, every target, every round), timed by the kernel where it can be
 * (bench/capture.ts): the request packet's capture stamp to its answer's, so the generator's own late wake-ups
 * are not counted against any target. One capture covers the stretch, because tcpdump is handed packets in
 * blocks up to a second late. `finish` returns each label's round trips, sorted: the kernel's, or the
 * generator's where the capture saw fewer than 95% of them (tcpdump dropped packets) or cannot run here.
 */
class Stretch {
  private readonly taken = new Map<string, { port: number; clients: Set<number>; rtts: number[] }>();
  private readonly capture: { stop(): Promise<Segment[]> } | null;
  private constructor(capture: { stop(): Promise<Segment[]> } | null) {
    this.capture = capture;
  }

  static async start(ports: number[]): Promise<Stretch> {
    return new Stretch(CAPTURE.ok ? await startCapture(ports) : null);
  }

  async measure(
    label: string,
    port: number,
    rate: number,
    seconds: number,
    poolSize: number,
    afterWarm?: () => Promise<void>,
  ): Promise<void> {
    const t = this.taken.get(label) ?? { port, clients: new Set<number>(), rtts: [] };
    this.taken.set(label, t);
    const o = { port, rate, seconds, poolSize, clientPorts: t.clients, during: watchLag };
    t.rtts.push(...(await openLoop(afterWarm ? { ...o, afterWarm } : o)));
  }

  async finish(): Promise<Record<string, number[]>> {
    const segments = this.capture ? await this.capture.stop() : null;
    const out: Record<string, number[]> = {};
    for (const [label, t] of this.taken) {
      const kernel = segments ? roundTrips(segments, t.port, MEASURED_BYTE, t.clients) : null;
      const complete = kernel !== null && kernel.length >= 0.95 * t.rtts.length;
      if (kernel && !complete)
        console.error(
          `  (${label}: capture saw ${kernel.length} of ${t.rtts.length} round trips: generator timing used)`,
        );
      out[label] = [...(complete ? kernel : t.rtts)].sort((x, y) => x - y);
    }
    return out;
  }
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

/** What the bench keeps of one Node proxy over a point's measured stretches. */
interface ProxyBooks {
  /** Its timing metrics before and after each stretch. */
  windows: Array<[ProxyTiming, ProxyTiming]>;
  cpuSeconds: number;
  /** How long its event loop waited for a CPU (schedstat). */
  waitSeconds: number;
  /** CPU its V8 threads (JIT compiler, GC helpers) used. */
  v8Seconds: number;
}

const newProxyBooks = (): ProxyBooks => ({ windows: [], cpuSeconds: 0, waitSeconds: 0, v8Seconds: 0 });

/** Of the releases between pairs of scrapes, the share later than each bound (ms → share). */
function lateShares(windows: ReadonlyArray<[ProxyTiming, ProxyTiming]>): Record<string, number> {
  const diff = (le: number) =>
    windows.reduce(
      (sum, [before, after]) => sum + (after.buckets.get(le) ?? 0) - (before.buckets.get(le) ?? 0),
      0,
    );
  const total = diff(Number.POSITIVE_INFINITY);
  const out: Record<string, number> = {};
  for (const le of [0.0005, 0.001, 0.0025])
    out[`>${le * 1e3}ms`] = total > 0 ? 1 - diff(le) / total : Number.NaN;
  return out;
}

/** Of the releases more than 1 ms late between pairs of scrapes, how many each cause held up. */
function lateCauseCounts(windows: ReadonlyArray<[ProxyTiming, ProxyTiming]>): Record<LateCause, number> {
  const out = Object.fromEntries(LATE_CAUSES.map((c) => [c, 0])) as Record<LateCause, number>;
  for (const [before, after] of windows)
    for (const c of LATE_CAUSES) out[c] += (after.causes.get(c) ?? 0) - (before.causes.get(c) ?? 0);
  return out;
}

/** Late releases per cause, summed over points (or over the runs of one point): counts add, shares do not. */
function sumCauses(
  points: ReadonlyArray<{ proxyLateCauses?: Record<LateCause, number> }>,
): Record<LateCause, number> {
  return Object.fromEntries(
    LATE_CAUSES.map((c) => [c, points.reduce((sum, p) => sum + (p.proxyLateCauses?.[c] ?? 0), 0)]),
  ) as Record<LateCause, number>;
}

const causeTotal = (counts: Record<LateCause, number>) => LATE_CAUSES.reduce((sum, c) => sum + counts[c], 0);

const CAUSE_WORDS: Record<LateCause, string> = {
  timer_thread: 'timer thread woken late',
  loop_wake: 'event loop woken late',
  loop_busy: 'event loop off its CPU or busy',
};
/** "timer thread woken late 40%, …" for a count per cause. */
function causeSplit(counts: Record<LateCause, number>): string {
  const total = causeTotal(counts);
  if (total === 0) return 'none';
  return LATE_CAUSES.map((c) => `${CAUSE_WORDS[c]} ${Math.round((100 * counts[c]) / total)}%`).join(', ');
}

const SAMPLES = 200_000;

/** Quantiles of the configured added round trip alone (two independent one-way draws), by sampling the model. */
function modelRtt(imp: Impairment): { p50: number; p99: number } {
  const rng = seededRng(1);
  const xs = Array.from({ length: SAMPLES }, () => (drawDelay(imp, rng) + drawDelay(imp, rng)) * 1e3);
  xs.sort((a, b) => a - b);
  return { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) };
}

/**
 * Quantiles of what an exact emulator would measure: a direct round trip of this run plus the model's two
 * one-way draws (a Monte Carlo convolution; the two are independent). And how precisely `n` samples can
 * show them: the rank of a sample's p-quantile is about normal around p with sd √(p(1−p)/n), so the
 * predicted distribution's quantiles at p ± 1.96 sd bound where an exact emulator's measurement falls 95% of
 * the time (with jitter this is tenths of a millisecond: a ±10 ms draw each way spreads the round trip
 * over 40 ms).
 */
function predictedRtt(
  direct: readonly number[],
  draw: (rng: Rng) => number,
  rng: Rng,
  n: number,
): { p50: number; p99: number; noise: { p50: number; p99: number } } {
  const xs = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    const d = direct[Math.floor(rng() * direct.length)] as number;
    xs[i] = d + (draw(rng) + draw(rng)) * 1e3;
  }
  xs.sort();
  const q = (p: number) => xs[Math.round(Math.min(1, Math.max(0, p)) * (SAMPLES - 1))] as number;
  const noise = (p: number) => {
    const sd = Math.sqrt((p * (1 - p)) / Math.max(1, n));
    return Math.max(q(p + 1.96 * sd) - q(p), q(p) - q(p - 1.96 * sd));
  };
  return { p50: q(0.5), p99: q(0.99), noise: { p50: noise(0.5), p99: noise(0.99) } };
}

/**
 * What Toxiproxy 2.12 actually draws for one direction (toxics/latency.go: `delay += rand.Int63n(jitter*2) -
 * jitter`, in whole milliseconds): an integer in [latency − jitter, latency + jitter − 1], 0.5 ms below the
 * configured mean. Its error against these draws is its timing error alone, with the draw's bias set apart.
 */
function toxiproxyDraw(delayMs: number, jitterMs: number): (rng: Rng) => number {
  return (rng) => (delayMs + (jitterMs > 0 ? Math.floor(rng() * 2 * jitterMs) - jitterMs : 0)) / 1e3;
}

/**
 * The host's own wake-up floor, measured without Node's event loop or any socket: a thread sleeping 0.5 ms in
 * a futex (Atomics.wait, with the 1 µs timer slack the proxy asks for) is woken more than 1 ms late this many
 * times per second, and a thread that never sleeps loses its CPU for more than 1 ms this many times. On a VM
 * the first is the hypervisor's latency in bringing back a vCPU (and the guest scheduler's); every userspace
 * emulator that sleeps between deadlines pays it, so it is printed beside the p99 errors. Two seconds each:
 * these stalls come about once a second here, so a shorter sample says little. The slack is put back after,
 * so the load generator (this process) times its requests as it did before the floor was measured.
 */
function hostWakeFloor(seconds = 4): Run['host'] {
  const SLACK = '/proc/self/timerslack_ns';
  let previousSlack: string | undefined;
  try {
    previousSlack = readFileSync(SLACK, 'utf8').trim();
  } catch {
    // no /proc: nothing to put back
  }
  reduceTimerSlack();
  try {
    return sleepAndBusyStalls(seconds);
  } finally {
    if (previousSlack !== undefined) {
      try {
        writeFileSync(SLACK, previousSlack);
      } catch {
        // best effort, as setting it was
      }
    }
  }
}

function sleepAndBusyStalls(seconds: number): NonNullable<Run['host']> {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  let wakes = 0;
  let sleepStalls = 0;
  let worstSleep = 0;
  const sleepEnd = performance.now() + seconds * 500;
  while (performance.now() < sleepEnd) {
    const t0 = performance.now();
    Atomics.wait(cell, 0, 0, 0.5);
    const over = performance.now() - t0 - 0.5;
    wakes++;
    if (over > 1) sleepStalls++;
    worstSleep = Math.max(worstSleep, over);
  }
  let busyStalls = 0;
  let worstBusy = 0;
  let last = performance.now();
  const busyEnd = last + seconds * 500;
  while (last < busyEnd) {
    const t = performance.now();
    if (t - last > 1) busyStalls++;
    worstBusy = Math.max(worstBusy, t - last);
    last = t;
  }
  const half = seconds / 2;
  return {
    sleepStallsPerSecond: sleepStalls / half,
    sleepStallShare: sleepStalls / Math.max(1, wakes),
    worstSleepMs: worstSleep,
    busyStallsPerSecond: busyStalls / half,
    worstBusyMs: worstBusy,
  };
}

function describeHost(h: Run['host']): string {
  if (!h) return 'host wake-up floor: not measured';
  return (
    `host wake-up floor (no Node loop, no sockets): a 0.5 ms futex sleep woke > 1 ms late ${h.sleepStallsPerSecond.toFixed(1)}×/s ` +
    `(${(h.sleepStallShare * 100).toFixed(2)}% of wakes, worst +${h.worstSleepMs.toFixed(2)} ms); a busy thread lost its CPU > 1 ms ` +
    `${h.busyStallsPerSecond.toFixed(1)}×/s (worst ${h.worstBusyMs.toFixed(2)} ms)`
  );
}

/** Errors (ms) of one target at one point: measured − predicted (convolved), and the naive subtraction. */
interface Errors {
  p50: number;
  p99: number;
  naiveP50: number;
  naiveP99: number;
  cpu: number;
}

/** One point of one run, as written by --json and combined by --median. */
interface Point {
  delay: number;
  jitter: number;
  rate: number;
  n: number;
  direct: { p50: number; p99: number };
  model: { p50: number; p99: number };
  predicted: { p50: number; p99: number };
  /** Sampling noise of the measured p50/p99 (95% half-width, ms) were the emulator exact. */
  noise: { p50: number; p99: number };
  genLagP99: number;
  proxy: Errors;
  coarse: Errors | null;
  /** null: not measured (no binary, or a jitter Toxiproxy cannot take). */
  toxi: Errors | null;
  /** Toxiproxy's errors against what it really draws (whole ms, biased low with jitter): its timing alone. */
  toxiOwn?: { p50: number; p99: number } | null;
  /** Share of the proxy's releases it ran more than 1 ms after their deadline (its own lateness histogram). */
  proxyLate1ms?: number;
  /** The same for the --variant / --compare proxy, and its CPU (share of one core), for an A/B of both. */
  variantLate1ms?: number;
  variantCpu?: number;
  /** Of those, how many each cause held up (mec_link_proxy_late_releases_total). */
  proxyLateCauses?: Record<LateCause, number>;
  /** How long the proxy's event loop waited for a CPU while measured, ms per second (schedstat). */
  proxyRunQueueMsPerS?: number;
  /** CPU the proxy's V8 threads (JIT compiler, GC helpers) used while measured, ms per second. */
  proxyV8MsPerS?: number;
}

interface Run {
  load: string;
  /** How round trips were timed (older JSON: the generator). */
  timing?: string;
  /** --rt: the SCHED_FIFO priority the emulators ran at. */
  rt?: number;
  /** --pin: the CPUs the emulators had to themselves. */
  pin?: string;
  /** What the third target was (--coarse / --compare), for its column. */
  variant?: string | null;
  toxiproxy: string | null;
  overhead: Array<{ rate: number; p50: number; p99: number }>;
  points: Point[];
  host?: {
    sleepStallsPerSecond: number;
    sleepStallShare: number;
    worstSleepMs: number;
    busyStallsPerSecond: number;
    worstBusyMs: number;
  } | null;
}

const targetMet = (p: Point): boolean => verdict(p).met;

/** The target column: met or MISSED, and whether a loss to Toxiproxy was too small to resolve. */
function targetCell(p: Point): string {
  const v = verdict(p);
  return v.met ? (v.unresolved.length > 0 ? 'met (vs Toxiproxy: within noise)' : 'met') : 'MISSED';
}

function printTable(points: Point[], haveToxi: boolean, variant = VARIANT?.label): void {
  const haveCoarse = points.some((p) => p.coarse !== null);
  const label = variant ?? 'variant';
  const header = [
    'one-way',
    'jitter',
    'rps',
    'n',
    'direct p50/p99',
    'model p50/p99',
    'predicted p50/p99',
    'gen lag p99',
    'noise ±p50/p99',
    'proxy err p50',
    'p99',
    '(naive p50/p99)',
    'cpu',
    'late>1ms',
    'cpu wait',
    ...(haveCoarse ? [`${label} p50`, 'p99', 'cpu', 'late>1ms'] : []),
    ...(haveToxi ? ['toxi err p50', 'p99', '(naive p50/p99)', 'cpu', 'toxi vs own draws p50/p99'] : []),
    'target',
  ];
  const f = (x: number) => x.toFixed(3);
  const rows = points.map((p) => [
    `${p.delay}`,
    p.jitter ? `±${p.jitter} unif` : '0',
    `${p.rate}`,
    `${p.n}`,
    `${f(p.direct.p50)}/${f(p.direct.p99)}`,
    `${p.model.p50.toFixed(2)}/${p.model.p99.toFixed(2)}`,
    `${f(p.predicted.p50)}/${f(p.predicted.p99)}`,
    p.genLagP99.toFixed(2),
    `${f(p.noise.p50)}/${f(p.noise.p99)}`,
    f(p.proxy.p50),
    f(p.proxy.p99),
    `${f(p.proxy.naiveP50)}/${f(p.proxy.naiveP99)}`,
    `${Math.round(p.proxy.cpu * 100)}%`,
    p.proxyLate1ms === undefined ? '' : `${(p.proxyLate1ms * 100).toFixed(2)}%`,
    p.proxyRunQueueMsPerS === undefined ? '' : `${p.proxyRunQueueMsPerS.toFixed(1)} ms/s`,
    ...(haveCoarse
      ? [
          f(p.coarse?.p50 ?? Number.NaN),
          f(p.coarse?.p99 ?? Number.NaN),
          p.variantCpu === undefined ? '' : `${Math.round(p.variantCpu * 100)}%`,
          p.variantLate1ms === undefined ? '' : `${(p.variantLate1ms * 100).toFixed(2)}%`,
        ]
      : []),
    ...(haveToxi
      ? p.toxi
        ? [
            f(p.toxi.p50),
            f(p.toxi.p99),
            `${f(p.toxi.naiveP50)}/${f(p.toxi.naiveP99)}`,
            `${Math.round(p.toxi.cpu * 100)}%`,
            p.toxiOwn ? `${f(p.toxiOwn.p50)}/${f(p.toxiOwn.p99)}` : '',
          ]
        : ['n/a (ms only)', '', '', '', '']
      : []),
    targetCell(p),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  const met = points.filter(targetMet).length;
  console.log(
    `\n${met}/${points.length} points meet the target (at ${TARGET_RATE} rps: |p50 err| < ${P50_TARGET_MS} ms and |p99 err| < ${P99_TARGET_MS} ms; everywhere: no worse than Toxiproxy where it was measured, by more than the noise).`,
  );
  for (const p of points) {
    const v = verdict(p);
    const at = `${p.delay} ms ±${p.jitter} at ${p.rate} rps`;
    if (!v.met) console.log(`  missed at ${at}: ${v.misses.join('; ')}`);
    if (v.unresolved.length > 0) console.log(`  not resolved at ${at}: ${v.unresolved.join('; ')}`);
  }
  if (points.every((p) => p.proxyLateCauses)) {
    const all = sumCauses(points);
    console.log(
      `the proxy's ${causeTotal(all)} releases > 1 ms late, by where the time went (timer.ts lateCause): ${causeSplit(all)}`,
    );
  }
  console.log(
    "err = measured percentile − predicted (direct ⊕ model); noise = half-width of the 95% interval of that percentile for an exact emulator with this many samples (errors inside it are not resolved); naive = measured − direct − model percentile; gen lag = the load generator’s own event-loop delay (ms); cpu = share of one core used while measured; late>1ms = share of the proxy's releases it ran > 1 ms after their deadline (its own histogram; the variant's in its own columns); cpu wait = how long the proxy's event loop waited for a CPU, ms per second (schedstat); toxi vs own draws = Toxiproxy against the whole-millisecond delays it really draws (its timing alone; judged is the column against the configured model).",
  );
}

/** --median: per point, the median of every figure over several runs' JSON. */
function medianOfRuns(files: string[]): void {
  const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Run);
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
  };
  const medErrors = (es: Errors[]): Errors => ({
    p50: med(es.map((e) => e.p50)),
    p99: med(es.map((e) => e.p99)),
    naiveP50: med(es.map((e) => e.naiveP50)),
    naiveP99: med(es.map((e) => e.naiveP99)),
    cpu: med(es.map((e) => e.cpu)),
  });
  const first = runs[0];
  if (!first) throw new Error('--median needs at least one JSON file from --json');
  const points = first.points.map((p0, i): Point => {
    const ps = runs.map((r) => r.points[i] as Point);
    const toxis = ps.map((p) => p.toxi).filter((t): t is Errors => t !== null);
    return {
      ...p0,
      n: med(ps.map((p) => p.n)),
      direct: { p50: med(ps.map((p) => p.direct.p50)), p99: med(ps.map((p) => p.direct.p99)) },
      predicted: { p50: med(ps.map((p) => p.predicted.p50)), p99: med(ps.map((p) => p.predicted.p99)) },
      noise: { p50: med(ps.map((p) => p.noise.p50)), p99: med(ps.map((p) => p.noise.p99)) },
      genLagP99: med(ps.map((p) => p.genLagP99)),
      proxy: medErrors(ps.map((p) => p.proxy)),
      coarse: p0.coarse ? medErrors(ps.map((p) => p.coarse as Errors)) : null,
      toxi: toxis.length > 0 ? medErrors(toxis) : null,
      toxiOwn: ps.every((p) => p.toxiOwn)
        ? {
            p50: med(ps.map((p) => (p.toxiOwn as { p50: number }).p50)),
            p99: med(ps.map((p) => (p.toxiOwn as { p99: number }).p99)),
          }
        : null,
      ...(ps.every((p) => p.proxyRunQueueMsPerS !== undefined)
        ? { proxyRunQueueMsPerS: med(ps.map((p) => p.proxyRunQueueMsPerS as number)) }
        : {}),
      ...(ps.every((p) => p.proxyV8MsPerS !== undefined)
        ? { proxyV8MsPerS: med(ps.map((p) => p.proxyV8MsPerS as number)) }
        : {}),
      ...(ps.every((p) => p.proxyLate1ms !== undefined)
        ? { proxyLate1ms: med(ps.map((p) => p.proxyLate1ms as number)) }
        : {}),
      ...(ps.every((p) => p.variantLate1ms !== undefined)
        ? { variantLate1ms: med(ps.map((p) => p.variantLate1ms as number)) }
        : {}),
      ...(ps.every((p) => p.variantCpu !== undefined)
        ? { variantCpu: med(ps.map((p) => p.variantCpu as number)) }
        : {}),
      // Counts, not shares: summed over the runs, so the split below weighs every late release once.
      ...(ps.every((p) => p.proxyLateCauses) ? { proxyLateCauses: sumCauses(ps) } : {}),
    };
  });
  console.log(`median of ${runs.length} runs; load averages: ${runs.map((r) => r.load).join(' | ')}`);
  console.log(`timing: ${runs.map((r) => r.timing ?? 'generator').join(' | ')}`);
  if (runs.some((r) => r.rt !== undefined))
    console.log(`emulators at SCHED_FIFO: ${runs.map((r) => r.rt ?? 'no').join(' | ')}`);
  if (runs.some((r) => r.pin !== undefined))
    console.log(`emulators pinned to CPUs: ${runs.map((r) => r.pin ?? 'no').join(' | ')}`);
  for (const r of runs) console.log(describeHost(r.host ?? null));
  for (const rate of first.overhead.map((o) => o.rate)) {
    const os = runs.map((r) => r.overhead.find((o) => o.rate === rate) as { p50: number; p99: number });
    console.log(
      `proxy overhead at 0 ms, ${rate} rps: p50 +${med(os.map((o) => o.p50)).toFixed(3)} ms, p99 +${med(os.map((o) => o.p99)).toFixed(3)} ms`,
    );
  }
  printTable(
    points,
    runs.some((r) => r.toxiproxy !== null),
    first.variant ?? undefined,
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
    // Before any child starts: the host alone.
    const host = hostWakeFloor();
    const { echoPort, proxy: emulated, toxiproxy } = await startEmulators(children, PLACE);
    const { child: proxy, port: proxyPort, adminPort: proxyAdmin } = emulated;
    // --coarse: the same proxy with setTimeout only (whole-millisecond timers), to show what the precise timer
    // buys. Off by default: its share of the time buys more samples for the targets that are judged.
    const coarsePort = await freePort();
    const coarseAdmin = await freePort();
    const variantChild = VARIANT
      ? startProxy(
          `proxy-${VARIANT.label}`,
          { port: coarsePort, adminPort: coarseAdmin, upstreamPort: echoPort },
          {
            place: PLACE,
            env: VARIANT.env,
            ...(VARIANT.cwd ? { cwd: VARIANT.cwd } : {}),
          },
        )
      : null;
    if (variantChild) children.push(variantChild);
    if (VARIANT) await waitPort(coarsePort);
    const haveToxi = toxiproxy !== null;
    const toxi = toxiproxy?.child;
    const toxiPort = toxiproxy?.port ?? 0;
    const toxiAdmin = toxiproxy?.adminPort ?? 0;

    const loadBefore = loadAverage();
    console.log(
      `link fidelity: round trip through the proxy vs direct ⊕ configured (ms); ${SECONDS} s per point in ${ROUNDS} interleaved rounds, loopback; load average ${loadBefore}` +
        describePlacement(PLACE),
    );
    console.log(describeHost(host));
    console.log(
      CAPTURE.ok
        ? 'round trips timed by the kernel: tcpdump on loopback, request packet to answer packet (the generator’s own wake-ups not counted)'
        : `round trips timed by the generator’s event loop (its own late wake-ups count against every target): no packet capture, ${CAPTURE.why}`,
    );
    console.log(
      haveToxi
        ? `Toxiproxy: ${toxiproxy.bin}`
        : 'Toxiproxy: not measured (no binary: set TOXIPROXY_BIN, or run `make bench-fidelity` where Go can build it)',
    );
    // Warm-up, not measured. Without it the JIT compiled the proxy's code during the first measurements: the
    // overhead stage below runs at 0 ms, where no release waits on the timer, so the timer's path (the
    // scheduler, the helper thread's messages) was compiled during whichever delayed point came first, which
    // then missed in every set. Every emulator gets the same, so none is measured cold (Toxiproxy is compiled
    // ahead of time but gets its share too).
    await warmUp([
      { label: 'proxy', port: proxyPort, pid: proxy.pid, set: (d, j) => setProxyDelay(proxyAdmin, d, j) },
      ...(variantChild
        ? [
            {
              label: VARIANT?.label ?? 'variant',
              port: coarsePort,
              pid: variantChild.pid,
              set: (d: number, j: number) => setProxyDelay(coarseAdmin, d, j),
            },
          ]
        : []),
      ...(toxiproxy
        ? [
            {
              label: 'Toxiproxy',
              port: toxiPort,
              set: (d: number, j: number) => setToxiproxyDelay(toxiAdmin, d, j),
            },
          ]
        : []),
    ]);
    // The floor: what the proxy adds with no delay configured (two extra socket hops per round trip).
    const overhead: Run['overhead'] = [];
    for (const rate of RATES) {
      await setProxyDelay(proxyAdmin, 0, 0);
      const stretch = await Stretch.start([echoPort, proxyPort]);
      for (let round = 0; round < ROUNDS; round++) {
        await stretch.measure('direct', echoPort, rate, SECONDS / ROUNDS, 20);
        await stretch.measure('proxy', proxyPort, rate, SECONDS / ROUNDS, 20);
      }
      const { direct: d = [], proxy: p = [] } = await stretch.finish();
      const o = {
        rate,
        p50: quantile(p, 0.5) - quantile(d, 0.5),
        p99: quantile(p, 0.99) - quantile(d, 0.99),
      };
      overhead.push(o);
      console.log(
        `proxy overhead at 0 ms, ${rate} rps: p50 +${o.p50.toFixed(3)} ms, p99 +${o.p99.toFixed(3)} ms`,
      );
    }
    const points: Point[] = [];
    const rng = seededRng(2);
    for (const rate of RATES) {
      for (const delay of DELAYS_MS) {
        for (const jitter of [0, delay / 5]) {
          const imp = impairment(delay, jitter);
          const model = modelRtt(imp);
          await setProxyDelay(proxyAdmin, delay, jitter);
          // Toxiproxy takes whole milliseconds: a jitter below 1 ms cannot be configured there.
          const toxiOk = haveToxi && Number.isInteger(jitter);
          if (toxiOk) await setToxiproxyDelay(toxiAdmin, delay, jitter);
          const pool = Math.ceil((rate * (2 * delay + 2 * jitter + 5) * 2) / 1000) + 10;
          if (VARIANT) await setProxyDelay(coarseAdmin, delay, jitter);
          // Interleaved rounds: the host's load drifts (other jobs share it), so each target gets its share of
          // every phase instead of one target getting a quiet minute and another a busy one.
          const stretch = await Stretch.start([
            echoPort,
            proxyPort,
            ...(VARIANT ? [coarsePort] : []),
            ...(toxiOk ? [toxiPort] : []),
          ]);
          let toxiCpuSeconds = 0;
          lag.reset();
          // Each Node proxy's own lateness, CPU, wait for a CPU and V8 threads' time, over its measured
          // stretches only (not the warm-up bursts).
          const main = newProxyBooks();
          const variant = newProxyBooks();
          const measureProxy = async (
            label: string,
            port: number,
            admin: number,
            pid: number | undefined,
            b: ProxyBooks,
          ) => {
            const cpu0 = cpuSeconds(pid);
            const v80 = v8CpuSeconds(pid);
            let wait0 = Number.NaN;
            let before: ProxyTiming = { buckets: new Map(), causes: new Map() };
            await stretch.measure(label, port, rate, SECONDS / ROUNDS, pool, async () => {
              wait0 = runQueueSeconds(pid); // the measured stretch only, as the lateness below
              before = await proxyTiming(admin);
            });
            b.waitSeconds += runQueueSeconds(pid) - wait0;
            b.windows.push([before, await proxyTiming(admin)]);
            b.cpuSeconds += cpuSeconds(pid) - cpu0;
            b.v8Seconds += v8CpuSeconds(pid) - v80;
          };
          for (let round = 0; round < ROUNDS; round++) {
            await stretch.measure('direct', echoPort, rate, SECONDS / ROUNDS, pool);
            await measureProxy('proxy', proxyPort, proxyAdmin, proxy.pid, main);
            if (variantChild)
              await measureProxy('variant', coarsePort, coarseAdmin, variantChild.pid, variant);
            if (toxiOk) {
              const c0 = cpuSeconds(toxi?.pid);
              await stretch.measure('toxiproxy', toxiPort, rate, SECONDS / ROUNDS, pool);
              toxiCpuSeconds += cpuSeconds(toxi?.pid) - c0;
            }
          }
          const genLagP99 = lag.percentile(99) / 1e6;
          const lateShare = lateShares(main.windows);
          const {
            direct = [],
            proxy: through = [],
            variant: viaCoarse = [],
            toxiproxy: viaToxi = [],
          } = await stretch.finish();
          const { noise, ...predicted } = predictedRtt(direct, (r) => drawDelay(imp, r), rng, through.length);
          const toxiOwn = toxiOk
            ? predictedRtt(direct, toxiproxyDraw(delay, jitter), rng, viaToxi.length)
            : null;
          const errors = (xs: number[], cpu: number): Errors => ({
            p50: quantile(xs, 0.5) - predicted.p50,
            p99: quantile(xs, 0.99) - predicted.p99,
            naiveP50: quantile(xs, 0.5) - quantile(direct, 0.5) - model.p50,
            naiveP99: quantile(xs, 0.99) - quantile(direct, 0.99) - model.p99,
            cpu,
          });
          const point: Point = {
            delay,
            jitter,
            rate,
            n: through.length,
            direct: { p50: quantile(direct, 0.5), p99: quantile(direct, 0.99) },
            model,
            predicted,
            noise,
            genLagP99,
            proxy: errors(through, main.cpuSeconds / SECONDS),
            coarse: VARIANT ? errors(viaCoarse, Number.NaN) : null,
            toxi: toxiOk ? errors(viaToxi, toxiCpuSeconds / SECONDS) : null,
            toxiOwn: toxiOwn
              ? { p50: quantile(viaToxi, 0.5) - toxiOwn.p50, p99: quantile(viaToxi, 0.99) - toxiOwn.p99 }
              : null,
            proxyLate1ms: lateShare['>1ms'] ?? Number.NaN,
            ...(variantChild
              ? {
                  variantLate1ms: lateShares(variant.windows)['>1ms'] ?? Number.NaN,
                  variantCpu: variant.cpuSeconds / SECONDS,
                }
              : {}),
            proxyLateCauses: lateCauseCounts(main.windows),
            proxyRunQueueMsPerS: (main.waitSeconds / SECONDS) * 1e3,
            proxyV8MsPerS: (main.v8Seconds / SECONDS) * 1e3,
          };
          points.push(point);
          console.error(
            `  ${delay} ms ±${jitter} at ${rate} rps: proxy ${point.proxy.p50.toFixed(3)}/${point.proxy.p99.toFixed(3)}` +
              (point.toxi ? `, toxiproxy ${point.toxi.p50.toFixed(3)}/${point.toxi.p99.toFixed(3)}` : '') +
              `, gen lag p99 ${genLagP99.toFixed(2)} ms, proxy waited for a CPU ${point.proxyRunQueueMsPerS?.toFixed(1)} ms/s, its V8 threads ran ${point.proxyV8MsPerS?.toFixed(1)} ms/s, releases late ${Object.entries(
                lateShare,
              )
                .map(([k, v]) => `${k} ${(v * 100).toFixed(2)}%`)
                .join(' ')} (${causeSplit(point.proxyLateCauses ?? lateCauseCounts([]))})` +
              ` ${targetCell(point)}`,
          );
        }
      }
    }
    const loadAfter = loadAverage();
    console.log(`load average before/after: ${loadBefore} / ${loadAfter}`);
    printTable(points, haveToxi);
    if (flags.json) {
      const run: Run = {
        load: `${loadBefore} → ${loadAfter}`,
        timing: CAPTURE.ok ? 'kernel (tcpdump)' : `generator (${CAPTURE.why})`,
        ...(PLACE.rt === undefined ? {} : { rt: PLACE.rt }),
        ...(PLACE.cpus === undefined ? {} : { pin: PLACE.cpus }),
        toxiproxy: toxiproxy?.bin ?? null,
        variant: VARIANT ? `${VARIANT.label}${flags.compare ? ` ${flags.compare}` : ''}` : null,
        overhead,
        points,
        host,
      };
      writeFileSync(flags.json, `${JSON.stringify(run, null, 1)}\n`);
    }
  } finally {
    stopAll();
  }
}

if (flags.median) medianOfRuns(positionals);
else await main();
