// Sub-millisecond deadlines for the proxy's releases, on the event loop. setTimeout counts whole milliseconds
// and often fires one late, and a busy loop is exact but burns a core; so a helper thread (waker.ts) sleeps in
// Atomics.wait, a futex with a microsecond timeout, until the earliest deadline, and wakes the event loop with
// a message; the loop runs every callback that is due. Nothing spins: the CPU spent follows the number of
// deadlines, not their length. Two corrections:
//   - Linux lets a sleeping thread's timer fire up to its "timer slack" late (50 µs by default; the futex
//     woke ~80 µs late at the median on a 2-core VM, ~33 µs with a 1 µs slack). The slack is set (best
//     effort) before the helper thread starts, which inherits it.
//   - What lateness remains (the message's hop to the event loop, a read before it) is systematic: callbacks
//     run a running median of it ahead of their deadline (`nextAdvance`), never more than MAX_ADVANCE_NS
//     early, so the median release lands on its deadline.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** The most a callback runs before its deadline to cancel the scheduler's own median lateness. */
export const MAX_ADVANCE_NS = 200_000;
/** How much the advance moves per release: it tracks a drift of 1 ms/s at 2,000 releases/s, and sits still. */
export const ADVANCE_STEP_NS = 500;
/** Deadlines this close to the one being run run in the same pass: one wake-up, not two. */
export const COALESCE_NS = 5_000;
/**
 * The furthest ahead a deadline may lie (a day). Callers keep within it (schedule.ts clamps what it
 * computes); the scheduler clamps again, so no deadline can overflow the helper's 64-bit clock.
 */
export const MAX_AHEAD_NS = 86_400e9;

/**
 * The lateness compensator, pure: a stochastic median tracker. A release that ran late moves the advance
 * up one step, an early one down; so it settles where half the releases are late and half early (median
 * error zero), within [0, maxAdvanceNs]. A median, not a mean: one stall of a few milliseconds (the host
 * descheduling the proxy) must not pull every later release early.
 */
export function nextAdvance(
  advanceNs: number,
  latenessNs: number,
  maxAdvanceNs = MAX_ADVANCE_NS,
  stepNs = ADVANCE_STEP_NS,
): number {
  const a = advanceNs + (latenessNs > 0 ? stepNs : latenessNs < 0 ? -stepNs : 0);
  return Math.min(maxAdvanceNs, Math.max(0, a));
}

/**
 * A deadline the scheduler can keep, pure: at most MAX_AHEAD_NS ahead, and not before the clock's zero (a
 * past deadline runs at once). A deadline that is not a number
 * runs at once (late is better than never: it would otherwise sit on top of the heap and hold every other).
 */
export function clampDeadline(dueNs: number, now: number): number {
  if (Number.isNaN(dueNs)) return now;
  return Math.max(0, Math.min(dueNs, now + MAX_AHEAD_NS));
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

/** nowNs()'s zero; the helper thread counts from the same one. */
export const EPOCH = process.hrtime.bigint();
/** Nanoseconds since this module loaded, as a double: exact to the nanosecond for 104 days. */
export function nowNs(): number {
  return Number(process.hrtime.bigint() - EPOCH);
}

interface Entry {
  dueNs: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
  /** Set ahead of the wake-up path (not already due): only these teach the compensator. */
  ahead: boolean;
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
 *   - loop_busy: the loop had the wake-up (or needed none) and still ran the release late: it waited for a
 *     CPU, or was busy with other work (release − the later of recvNs and the deadline).
 * `wake` is the last wake-up the loop received; one armed for another deadline (more than `windowNs` before
 * this one, or after it) does not count.
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

/** How far before its deadline a wake-up can have been armed: the advance and the coalescing. */
const WAKE_WINDOW_NS = MAX_ADVANCE_NS + COALESCE_NS;

export class Scheduler {
  private readonly heap = new TimerHeap();
  private seq = 0;
  /** A pass is queued with setImmediate (for a deadline already due). */
  private immediate = false;
  private readonly worker: Worker;
  /** Shared with the helper: a generation (bumped to interrupt its sleep) and the wake time it is armed for. */
  private readonly gen: Int32Array;
  private readonly wake: BigInt64Array;
  /** How far ahead of their deadlines callbacks run now (see nextAdvance). */
  advanceNs = 0;
  /** Whether the 1 µs timer slack could be set. */
  readonly slackReduced: boolean;
  /**
   * Called with how late each callback ran (ns; negative: early, by at most MAX_ADVANCE_NS) and, when that
   * is more than LATE_RELEASE_NS, why (see lateCause).
   */
  onLateness: ((lateNs: number, cause: LateCause | undefined) => void) | undefined;
  /** The last wake-up from the helper thread (for lateCause). */
  private lastWake: Wake | undefined;

  constructor() {
    this.slackReduced = reduceTimerSlack();
    const sab = new SharedArrayBuffer(16);
    this.gen = new Int32Array(sab, 0, 1);
    this.wake = new BigInt64Array(sab, 8, 1);
    this.worker = new Worker(fileURLToPath(new URL('./waker.ts', import.meta.url)), {
      workerData: { sab, epoch: EPOCH },
    });
    this.worker.unref();
    this.worker.on('message', ([wakeNs, postNs]: [number, number]) => {
      this.lastWake = { wakeNs, postNs, recvNs: nowNs() };
      this.pump();
    });
  }

  /** Runs `fn` at `dueNs` (on nowNs()'s clock; clamped by clampDeadline), or soon if that has passed. */
  at(dueNs: number, fn: () => void): TimerHandle {
    const now = nowNs();
    const due = clampDeadline(dueNs, now);
    const entry: Entry = { dueNs: due, seq: this.seq++, fn, cancelled: false, ahead: due > now };
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
    void this.worker.terminate();
  }

  private readonly pump = (): void => {
    this.immediate = false;
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
      if (e.ahead) this.advanceNs = nextAdvance(this.advanceNs, late);
      this.onLateness?.(
        late,
        late > LATE_RELEASE_NS ? lateCause(e.dueNs, now, this.lastWake, WAKE_WINDOW_NS) : undefined,
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
    if (!top || this.immediate) return;
    const wakeNs = Math.ceil(top.dueNs - this.advanceNs);
    if (wakeNs <= nowNs()) {
      this.immediate = true;
      setImmediate(this.pump);
      return;
    }
    const armed = Atomics.load(this.wake, 0);
    const wake = BigInt(wakeNs);
    if (armed !== 0n && armed <= wake) return;
    Atomics.store(this.wake, 0, wake);
    Atomics.add(this.gen, 0, 1);
    Atomics.notify(this.gen, 0);
  }
}
