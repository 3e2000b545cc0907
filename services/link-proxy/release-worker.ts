// The release thread (TIMER_MODE=writer; see release-thread.ts for why). It keeps the chunks handed over in a
// heap by deadline, sleeps on a futex until shortly before the earliest, spins the rest, and writes each due
// chunk straight to its socket's file descriptor. The event loop is not woken for a release; it hears of it
// afterwards, in one message per batch, and keeps the books.
import { writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CAUSE_LOOP_BUSY,
  CAUSE_NONE,
  CAUSE_TIMER_THREAD,
  CONSUMED,
  GEN,
  type Job,
  PIPE_HELD,
  PIPE_OPEN,
  PIPE_WRITING,
  type ReleaseBuffers,
  readJob,
  S_ADVANCE,
  S_SLEEP_UNTIL,
  S_WAKE_LEAD,
  SLEEP_IDLE,
  SUBMITTED,
  views,
} from './release-layout.ts';
import {
  COALESCE_NS,
  LATE_RELEASE_NS,
  lateCause,
  MAX_EARLY_NS,
  MIN_EARLY_NS,
  nextAdvance,
  nextEarly,
  TimerHeap,
  type Wake,
} from './timer.ts';

const {
  buffers,
  epoch,
  earlyNs: startEarlyNs,
  maxAdvanceNs,
} = workerData as {
  buffers: ReleaseBuffers;
  epoch: bigint;
  earlyNs: number;
  maxAdvanceNs: number;
};
const v = views(buffers);
const now = (): number => Number(process.hrtime.bigint() - epoch);

const heap = new TimerHeap<Job>();

let consumed = 0;
/** Takes what the event loop handed over; a slot is free for reuse once CONSUMED passes it. */
function drain(): void {
  const submitted = Atomics.load(v.ctl, SUBMITTED);
  while (consumed < submitted) heap.push(readJob(v, consumed++));
  Atomics.store(v.ctl, CONSUMED, consumed);
}

/** Writes one job unless its pipe is held; how many bytes went out (−1: the socket is broken). */
function write(j: Job): number {
  if (Atomics.compareExchange(v.pipes, j.pipe, PIPE_OPEN, PIPE_WRITING) !== PIPE_OPEN) return 0;
  let written: number;
  try {
    written = writeSync(j.fd, v.data, j.off, j.len);
  } catch (err) {
    written = (err as NodeJS.ErrnoException).code === 'EAGAIN' ? 0 : -1;
  }
  // A short write: the socket buffer is full. The event loop writes the rest (it can wait for the socket to
  // drain, this thread cannot), and this pipe's later jobs with it, in order.
  Atomics.store(v.pipes, j.pipe, written === j.len || written < 0 ? PIPE_OPEN : PIPE_HELD);
  return written;
}

let earlyNs = startEarlyNs;
let advanceNs = 0;
let lastWake: Wake | undefined;
const wakeWindowNs = MAX_EARLY_NS + maxAdvanceNs + COALESCE_NS;

function publish(sleepUntil: bigint): void {
  Atomics.store(v.state, S_SLEEP_UNTIL, sleepUntil);
}

for (;;) {
  const g = Atomics.load(v.ctl, GEN);
  drain();
  const top = heap.peek();
  if (!top) {
    publish(SLEEP_IDLE);
    if (Atomics.load(v.ctl, SUBMITTED) === consumed) Atomics.wait(v.ctl, GEN, g);
    continue;
  }
  let t = now();
  const target = top.dueNs - advanceNs;
  if (t < target - earlyNs) {
    const wakeNs = target - earlyNs;
    publish(BigInt(Math.ceil(wakeNs)));
    // Re-checked after publishing: a job handed over in between saw the old sleepUntil and may not notify.
    if (Atomics.load(v.ctl, SUBMITTED) !== consumed) continue;
    const r = Atomics.wait(v.ctl, GEN, g, (wakeNs - t) / 1e6);
    if (r === 'timed-out') {
      const woke = now();
      lastWake = { wakeNs, postNs: woke, recvNs: woke };
      earlyNs = nextEarly(earlyNs, woke - wakeNs, Math.min(MIN_EARLY_NS, startEarlyNs), MAX_EARLY_NS);
      Atomics.store(v.state, S_WAKE_LEAD, BigInt(Math.round(earlyNs)));
    }
    continue;
  }
  publish(0n);
  if (t < target) {
    // The last stretch, spun: a sleep this short would end late. New jobs are taken as they come.
    while (t < target && Atomics.load(v.ctl, SUBMITTED) === consumed) t = now();
    continue;
  }
  const acks: number[] = [];
  for (let j = heap.peek(); j && j.dueNs - advanceNs <= t + COALESCE_NS; j = heap.peek()) {
    heap.pop();
    const releaseNs = now();
    const written = write(j);
    const late = releaseNs - j.dueNs;
    // A job handed back unwritten (its pipe held) was not released: it teaches nothing.
    if (j.ahead && written !== 0) advanceNs = nextAdvance(advanceNs, late, maxAdvanceNs);
    const cause =
      written === 0 || late <= LATE_RELEASE_NS
        ? CAUSE_NONE
        : lateCause(j.dueNs, releaseNs, lastWake, wakeWindowNs) === 'timer_thread'
          ? CAUSE_TIMER_THREAD
          : CAUSE_LOOP_BUSY;
    acks.push(j.seq, written, releaseNs, late, cause);
    t = now();
  }
  Atomics.store(v.state, S_ADVANCE, BigInt(Math.round(advanceNs)));
  const msg = Float64Array.from(acks);
  parentPort?.postMessage(msg, [msg.buffer]);
}
