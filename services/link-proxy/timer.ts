// Sub-millisecond timers for the proxy. setTimeout counts whole milliseconds and often fires a millisecond
// late; a busy loop is exact but burns a core. So the wait is split (see `nextStep`):
//   - far from the deadline, a helper thread sleeps in Atomics.wait (a futex with a microsecond timeout)
//     and wakes the event loop with a message shortly before the deadline (`earlyNs`);
//   - the last fraction is spun with setImmediate, which still lets sockets be read and written between
//     checks, and ends on process.hrtime.
// The spin only covers `earlyNs` per deadline, so CPU use stays proportional to the number of deadlines,
// not to their length. mode "wake" drops the spin: the helper's message runs the release, and the
// compensator below absorbs the message's hop at the median. It spends a quarter less CPU, and in an
// interleaved A/B it was as exact as precise mode, no more (see the README's fidelity section).
// mode "coarse" (setTimeout only) and "spin" (setImmediate only) exist to measure the trade-off in the
// fidelity benchmark. mode "writer" moves the release of delayed chunks to a thread that writes them itself
// (release-thread.ts); this scheduler then times only the rest (connection set-up), as in precise mode.
// Two corrections on top (measured on a loaded 2-core host, bench/link-fidelity.ts):
//   - Linux lets a sleeping thread's timer fire up to its "timer slack" late (50 µs by default): the futex
//     woke ~80 µs late at the median here, ~33 µs with a 1 µs slack. The slack is set (best effort) before
//     the helper thread starts, which inherits it.
//   - What lateness remains (a loop turn, a write before it) is systematic: callbacks run a running median
//     of it ahead of their deadline (`nextAdvance`), never more than `maxAdvanceNs` early, so the median
//     release lands on the deadline instead of ~30 µs after it.
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

export type TimerMode = 'precise' | 'coarse' | 'spin' | 'wake' | 'writer';
/**
 * How long before a deadline the helper thread wakes the event loop, which spins the rest. Longer is more
 * exact on an idle host but spins more; on a loaded host a spinning process uses up its CPU share and is
 * descheduled for milliseconds, so shorter can be better there (TIMER_EARLY_US; see bench/link-fidelity.ts).
 */
export const DEFAULT_EARLY_NS = 100_000;
export const TIMER_MODES: readonly TimerMode[] = ['precise', 'coarse', 'spin', 'wake', 'writer'];
/** The most a callback may run before its deadline to cancel the scheduler's own lateness (TIMER_MAX_ADVANCE_US). */
export const DEFAULT_MAX_ADVANCE_NS = 50_000;
/**
 * The same in wake mode, whose median lateness includes the helper thread's message reaching the event loop
 * (30-100 µs measured here), which precise mode spins through.
 */
export const DEFAULT_WAKE_MAX_ADVANCE_NS = 200_000;

/** The compensator's bound when TIMER_MAX_ADVANCE_US is unset: none in coarse mode (the plain baseline). */
export function defaultMaxAdvanceNs(mode: TimerMode): number {
  if (mode === 'coarse') return 0;
  return mode === 'wake' ? DEFAULT_WAKE_MAX_ADVANCE_NS : DEFAULT_MAX_ADVANCE_NS;
}
/** How much the advance moves per release: it tracks a drift of 1 ms/s at 2,000 releases/s, and sits still. */
export const ADVANCE_STEP_NS = 500;
/** Deadlines this close to the one being run run in the same pass: one wake-up, not two. */
export const COALESCE_NS = 5_000;

/**
 * The lateness compensator, pure: a stochastic median tracker. A release that ran late moves the advance
 * up one step, an early one down; so it settles where half the releases are late and half early (median
 * error zero), within [0, maxAdvanceNs]. A median, not a mean: one stall of a few milliseconds (the host
 * descheduling the proxy) must not pull every later release early.
 */
export function nextAdvance(
  advanceNs: number,
  latenessNs: number,
  maxAdvanceNs: number,
  stepNs = ADVANCE_STEP_NS,
): number {
  const a = advanceNs + (latenessNs > 0 ? stepNs : latenessNs < 0 ? -stepNs : 0);
  return Math.min(maxAdvanceNs, Math.max(0, a));
}

/** Bounds of the adaptive wake-up lead (TIMER_EARLY_US is where it starts). */
export const MIN_EARLY_NS = 50_000;
export const MAX_EARLY_NS = 300_000;
export const EARLY_STEP_NS = 1_000;

/**
 * The adaptive wake-up lead, pure: a tracker of the 90th percentile of how late the helper thread's wake-up
 * reaches the event loop. A wake-up later than the lead (its deadline then runs late) moves the lead up nine
 * steps, one in time moves it down one, so it settles where nine in ten arrive in time. The spin after an
 * in-time wake-up lasts lead − wake lateness, so the CPU spent follows the host's noise instead of a fixed
 * worst case: an idle proxy on a loaded host needs ~150 µs, a busy one on a quiet host much less.
 */
export function nextEarly(
  earlyNs: number,
  wakeLateNs: number,
  minNs: number,
  maxNs: number,
  stepNs = EARLY_STEP_NS,
): number {
  const e = earlyNs + (wakeLateNs > earlyNs ? 9 * stepNs : -stepNs);
  return Math.min(maxNs, Math.max(minNs, e));
}

/**
 * Asks Linux to fire this thread's timers (and those of threads it starts) within 1 µs instead of 50 µs.
 * Best effort: where /proc is read-only or absent the default slack stays and the compensator absorbs it.
 */
export function reduceTimerSlack(): boolean {
  try {
    writeFileSync('/proc/self/timerslack_ns', '1000');
    return true;
  } catch {
    return false;
  }
}

/**
 * Sets the calling thread's nice value; threads it starts afterwards (the timer's helper) inherit it. Linux
 * keeps nice per thread, so Node's own earlier threads (GC, libuv pool) keep theirs. Returns why it failed
 * (below 0 needs CAP_SYS_NICE or RLIMIT_NICE), or undefined. Why bother: on a host whose CPUs are shared with
 * the traffic's own processes, most releases more than 1 ms late waited for a CPU (see the README).
 */
export function setThreadNice(nice: number): string | undefined {
  try {
    os.setPriority(0, nice);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** nowNs()'s zero; the release thread counts from the same one. */
export const EPOCH = process.hrtime.bigint();
/** Nanoseconds since this module loaded, as a double: exact to the nanosecond for 104 days. */
export function nowNs(): number {
  return Number(process.hrtime.bigint() - EPOCH);
}

/** What to do about the earliest deadline, from where we are. Pure. */
export type Step = { kind: 'run' } | { kind: 'spin' } | { kind: 'sleep'; wakeNs: number };

export function nextStep(now: number, dueNs: number, earlyNs: number): Step {
  if (dueNs <= now) return { kind: 'run' };
  if (dueNs - now <= earlyNs) return { kind: 'spin' };
  return { kind: 'sleep', wakeNs: dueNs - earlyNs };
}

interface Entry {
  dueNs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
  /** Set ahead of the wake-up path (not already due): only these teach the compensator. */
  ahead?: boolean;
}

/** A binary min-heap on (dueNs, seq): equal deadlines run in the order they were set. */
export class TimerHeap<E extends { dueNs: number; seq: number } = Entry> {
  private items: E[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): E | undefined {
    return this.items[0];
  }
  push(e: E): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i] as E, a[p] as E)) break;
      [a[i], a[p]] = [a[p] as E, a[i] as E];
      i = p;
    }
  }
  pop(): E | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l] as E, a[m] as E)) m = l;
        if (r < a.length && before(a[r] as E, a[m] as E)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as E, a[i] as E];
        i = m;
      }
    }
    return top;
  }
}

function before(x: { dueNs: number; seq: number }, y: { dueNs: number; seq: number }): boolean {
  return x.dueNs < y.dueNs || (x.dueNs === y.dueNs && x.seq < y.seq);
}

/** Releases later than this are counted with a cause (see lateCause). */
export const LATE_RELEASE_NS = 1_000_000;

/** Why a release ran late, for the three ways the host can hold it up (see lateCause). */
export type LateCause = 'timer_thread' | 'loop_wake' | 'loop_busy';
export const LATE_CAUSES: readonly LateCause[] = ['timer_thread', 'loop_wake', 'loop_busy'];

/** One wake-up of the event loop by the helper thread, on nowNs()'s clock. */
export interface Wake {
  /** What the helper was armed for. */
  wakeNs: number;
  /** When it woke and posted (the futex sleep ended). */
  postNs: number;
  /** When the event loop ran the message. */
  recvNs: number;
}

/**
 * Where a late release lost its time, pure. Three stretches can hold it up, and the longest is named:
 *   - timer_thread: the helper thread's futex sleep ended late (postNs − wakeNs): the host woke a sleeping
 *     thread late;
 *   - loop_wake: the helper posted in time but the sleeping event loop woke late (recvNs − postNs);
 *   - loop_busy: the loop had the wake-up (or needed none) and still ran the release late: it was
 *     descheduled while spinning, or busy with other work (release − the later of recvNs and the deadline).
 * `wake` is the last wake-up the loop received; one armed for another deadline (more than `windowNs` before
 * this one, or after it) does not count. The fidelity benchmark prints the split; see the README's fidelity
 * section for what it showed here.
 */
export function lateCause(
  dueNs: number,
  releaseNs: number,
  wake: Wake | undefined,
  windowNs: number,
): LateCause {
  const relevant = wake !== undefined && wake.wakeNs <= dueNs && dueNs - wake.wakeNs <= windowNs;
  if (!relevant) return 'loop_busy';
  const thread = wake.postNs - wake.wakeNs;
  const hop = wake.recvNs - wake.postNs;
  const busy = releaseNs - Math.max(wake.recvNs, dueNs);
  if (thread >= hop && thread >= busy) return 'timer_thread';
  return hop >= busy ? 'loop_wake' : 'loop_busy';
}

export interface TimerHandle {
  cancel(): void;
}

// The helper thread: sleeps until the armed wake time, then posts one message (what it was armed for, when it
// woke). The main thread arms it by storing a wake time and bumping the generation (which interrupts a sleep);
// compareExchange makes sure a wake time re-armed during the post is not lost. getBuiltinModule, not require:
// the worker inherits the parent's flags, and under --input-type=module eval'd code is a module.
const WAKER_SOURCE = `
const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');
const gen = new Int32Array(workerData.sab, 0, 1);
const wake = new BigInt64Array(workerData.sab, 8, 1);
const epoch = workerData.epoch;
for (;;) {
  const g = Atomics.load(gen, 0);
  const w = Atomics.load(wake, 0);
  if (w === 0n) { Atomics.wait(gen, 0, g); continue; }
  const now = process.hrtime.bigint() - epoch;
  if (now < w) { Atomics.wait(gen, 0, g, Number(w - now) / 1e6); continue; }
  if (Atomics.compareExchange(wake, 0, w, 0n) === w) parentPort.postMessage([Number(w), Number(now)]);
}`;

export class PreciseScheduler {
  private readonly heap = new TimerHeap();
  private seq = 0;
  private spinning = false;
  private coarseTimer: NodeJS.Timeout | undefined;
  private coarseWakeNs = Number.POSITIVE_INFINITY;
  private worker: Worker | undefined;
  private gen: Int32Array | undefined;
  private wake: BigInt64Array | undefined;
  private readonly mode: TimerMode;
  /** The wake-up lead (adapts in precise mode, see nextEarly). */
  earlyNs: number;
  private readonly minEarlyNs: number;
  private readonly maxEarlyNs: number;
  private readonly maxAdvanceNs: number;
  /** How far ahead of their deadlines callbacks run now (see nextAdvance). */
  advanceNs = 0;
  /** Whether the 1 µs timer slack could be set. */
  readonly slackReduced: boolean;
  /**
   * Called with how late each callback ran (ns; negative: early, by at most maxAdvanceNs) and, when that is
   * more than LATE_RELEASE_NS, why (see lateCause).
   */
  onLateness: ((lateNs: number, cause: LateCause | undefined) => void) | undefined;
  /** The last wake-up from the helper thread (for lateCause). */
  private lastWake: Wake | undefined;
  /** How far before its deadline a wake-up can have been armed: the lead, the advance, the coalescing. */
  private readonly wakeWindowNs: number;

  constructor(options: { mode?: TimerMode; earlyNs?: number; maxAdvanceNs?: number } = {}) {
    this.mode = options.mode === 'writer' || options.mode === undefined ? 'precise' : options.mode;
    // 100 µs covers the futex wake plus the message hop at the median (measured here: ~0.1 ms); 300 µs
    // was no more exact on a loaded 2-core host and spun twice the CPU (bench/link-fidelity.ts).
    this.earlyNs = this.mode === 'coarse' || this.mode === 'wake' ? 0 : (options.earlyNs ?? DEFAULT_EARLY_NS);
    this.minEarlyNs = Math.min(MIN_EARLY_NS, this.earlyNs);
    this.maxEarlyNs = Math.max(MAX_EARLY_NS, this.earlyNs);
    // coarse stays the plain setTimeout baseline the benchmark compares against.
    this.maxAdvanceNs = this.mode === 'coarse' ? 0 : (options.maxAdvanceNs ?? defaultMaxAdvanceNs(this.mode));
    this.wakeWindowNs = this.maxEarlyNs + this.maxAdvanceNs + COALESCE_NS;
    this.slackReduced = this.mode === 'coarse' ? false : reduceTimerSlack();
    if (this.mode === 'precise' || this.mode === 'wake') {
      const sab = new SharedArrayBuffer(16);
      this.gen = new Int32Array(sab, 0, 1);
      this.wake = new BigInt64Array(sab, 8, 1);
      this.worker = new Worker(WAKER_SOURCE, { eval: true, workerData: { sab, epoch: EPOCH } });
      this.worker.unref();
      this.worker.on('message', ([wakeNs, postNs]: [number, number]) => {
        const recvNs = nowNs();
        this.lastWake = { wakeNs, postNs, recvNs };
        if (this.mode === 'precise')
          this.earlyNs = nextEarly(this.earlyNs, recvNs - wakeNs, this.minEarlyNs, this.maxEarlyNs);
        this.pump();
      });
    }
  }

  /** Runs `fn` at `dueNs` (on nowNs()'s clock), or at once if that has passed. */
  at(dueNs: number, fn: () => void): TimerHandle {
    const entry: Entry = {
      dueNs,
      seq: this.seq++,
      fn,
      cancelled: false,
      ahead: dueNs > nowNs() + this.earlyNs,
    };
    this.heap.push(entry);
    if (this.heap.peek() === entry) this.plan();
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /**
   * How far ahead of a deadline this scheduler runs callbacks now (compensation plus coalescing): a callback
   * releasing several things due must release those due within `now + leadNs` too, or it would be called
   * again at once for each of them.
   */
  get leadNs(): number {
    return this.advanceNs + COALESCE_NS;
  }

  get pending(): number {
    return this.heap.size;
  }

  close(): void {
    if (this.coarseTimer) clearTimeout(this.coarseTimer);
    void this.worker?.terminate();
    this.worker = undefined;
  }

  private readonly spinPump = (): void => {
    this.spinning = false;
    this.pump();
  };

  private readonly pump = (): void => {
    let now = nowNs();
    for (let e = this.heap.peek(); e && e.dueNs <= now + this.leadNs; e = this.heap.peek()) {
      this.heap.pop();
      if (e.cancelled) continue;
      const late = now - e.dueNs;
      try {
        e.fn();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
      // After the callback, which judged what is due with the same lead as this loop did.
      if (e.ahead) this.advanceNs = nextAdvance(this.advanceNs, late, this.maxAdvanceNs);
      this.onLateness?.(
        late,
        late > LATE_RELEASE_NS ? lateCause(e.dueNs, now, this.lastWake, this.wakeWindowNs) : undefined,
      );
      now = nowNs();
    }
    this.plan();
  };

  /** Arranges to be woken for the earliest live deadline. */
  private plan(): void {
    let top = this.heap.peek();
    while (top?.cancelled) {
      this.heap.pop();
      top = this.heap.peek();
    }
    if (!top || this.spinning) return;
    const step =
      this.mode === 'spin'
        ? ({ kind: 'spin' } as Step)
        : nextStep(nowNs(), top.dueNs - this.advanceNs, this.earlyNs);
    if (step.kind !== 'sleep') {
      this.spinning = true;
      setImmediate(this.spinPump);
      return;
    }
    if (this.mode === 'coarse' || !this.worker || !this.wake || !this.gen) {
      if (this.coarseTimer && this.coarseWakeNs <= step.wakeNs) return;
      if (this.coarseTimer) clearTimeout(this.coarseTimer);
      this.coarseWakeNs = step.wakeNs;
      this.coarseTimer = setTimeout(
        () => {
          this.coarseTimer = undefined;
          this.coarseWakeNs = Number.POSITIVE_INFINITY;
          this.pump();
        },
        Math.max(0, (step.wakeNs - nowNs()) / 1e6),
      );
      return;
    }
    const armed = Atomics.load(this.wake, 0);
    const wake = BigInt(Math.ceil(step.wakeNs));
    if (armed !== 0n && armed <= wake) return;
    Atomics.store(this.wake, 0, wake);
    Atomics.add(this.gen, 0, 1);
    Atomics.notify(this.gen, 0);
  }
}
