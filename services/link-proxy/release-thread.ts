// TIMER_MODE=writer (the default): a thread of its own releases delayed chunks, writing them straight to the
// socket's file descriptor, so a release never waits for the event loop. In the other modes a release needs
// the event loop awake at its deadline, and most late releases (docs/fidelity-log.md, "where the p99 goes")
// were the loop woken late, off its CPU, or busy (a read, a scavenge, a scrape). Here only one thread has to
// be on time, as in Go, where the timer's goroutine writes.
//
// What it takes, and what keeps it safe:
//   - the chunk is copied into shared memory (a ring; a chunk that does not fit stays on the event loop);
//   - the event loop hands a pipe's chunks over only while nothing of that pipe waits on the loop, and the
//     thread hands a pipe's chunks back (unwritten) once one write comes up short, so bytes stay in order;
//   - a per-pipe lock: the thread writes only while the pipe is OPEN, and the event loop holds the pipe before
//     the socket is closed (proxy.ts hooks the socket's _destroy), so a descriptor is never written after it
//     is closed and perhaps reused by another connection.
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  ACK_FIELDS,
  allocateBuffers,
  CAUSE_LOOP_BUSY,
  CAUSE_TIMER_THREAD,
  CONSUMED,
  DATA_BYTES,
  GEN,
  JOB_SLOTS,
  PIPE_FREE,
  PIPE_HELD,
  PIPE_OPEN,
  PIPE_SLOTS,
  PIPE_WRITING,
  S_ADVANCE,
  S_SLEEP_UNTIL,
  S_WAKE_LEAD,
  SUBMITTED,
  views,
  writeJob,
} from './release-layout.ts';
import {
  DEFAULT_EARLY_NS,
  DEFAULT_MAX_ADVANCE_NS,
  EPOCH,
  type LateCause,
  MAX_EARLY_NS,
  nowNs,
} from './timer.ts';

/**
 * Space for chunk data, handed out in order and taken back in any order (chunks of different links are
 * released out of the order they came in); the space of a chunk is reused once every chunk before it is
 * back. Pure.
 */
export class ByteRing {
  private head = 0;
  private readonly live: Array<{ start: number; done: boolean }> = [];
  private first = 0; // id of live[0]
  private next = 0;
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** An id and an offset for `len` contiguous bytes, or undefined when full. */
  alloc(len: number): { id: number; offset: number } | undefined {
    if (len <= 0 || len > this.capacity) return undefined;
    let start: number;
    const oldest = this.live[0];
    if (!oldest) {
      start = 0;
    } else if (this.head > oldest.start) {
      // Free: [head, capacity) and [0, oldest.start). Strict comparisons keep head from meeting the oldest.
      if (this.capacity - this.head >= len) start = this.head;
      else if (oldest.start > len) start = 0;
      else return undefined;
    } else if (oldest.start - this.head > len) {
      start = this.head;
    } else return undefined;
    this.head = start + len;
    this.live.push({ start, done: false });
    return { id: this.next++, offset: start };
  }

  free(id: number): void {
    const e = this.live[id - this.first];
    if (!e) return;
    e.done = true;
    while (this.live[0]?.done) {
      this.live.shift();
      this.first++;
    }
  }

  get used(): number {
    return this.live.length;
  }
}

export interface Release {
  /** Bytes written: all, fewer (the rest is the event loop's, in order), or −1 (the socket is broken). */
  written: number;
  releaseNs: number;
  lateNs: number;
}

export type ReleaseOutcome = 'written' | 'handed_back' | 'failed';

const CAUSES: Record<number, LateCause | undefined> = {
  [CAUSE_TIMER_THREAD]: 'timer_thread',
  [CAUSE_LOOP_BUSY]: 'loop_busy',
};

export class ReleaseThread {
  private readonly buffers = allocateBuffers();
  private readonly v = views(this.buffers);
  private readonly worker: Worker;
  private readonly ring = new ByteRing(DATA_BYTES);
  private submitted = 0;
  private readonly pending = new Map<
    number,
    { ringId: number; length: number; done: (r: Release) => void }
  >();
  private readonly freePipes: number[] = [];
  /** Called with how late each chunk it wrote went out, and why when more than 1 ms (see timer.ts). */
  onLateness: ((lateNs: number, cause: LateCause | undefined) => void) | undefined;
  /** Called per chunk: written whole by the thread, or handed back (in part or whole) to the event loop. */
  onOutcome: ((outcome: ReleaseOutcome) => void) | undefined;
  /**
   * Called once if the thread dies (it threw, or ended without close()). What it held cannot be written in
   * order any more, so the owner should stop; without a handler the error is thrown (the process exits).
   */
  onFailure: ((err: Error) => void) | undefined;
  private closing = false;
  private failed = false;

  constructor(options: { earlyNs?: number; maxAdvanceNs?: number } = {}) {
    for (let p = PIPE_SLOTS - 1; p >= 0; p--) this.freePipes.push(p);
    this.worker = new Worker(fileURLToPath(new URL('./release-worker.ts', import.meta.url)), {
      workerData: {
        buffers: this.buffers,
        epoch: EPOCH,
        earlyNs: options.earlyNs ?? DEFAULT_EARLY_NS,
        maxAdvanceNs: options.maxAdvanceNs ?? DEFAULT_MAX_ADVANCE_NS,
      },
    });
    this.worker.unref();
    this.worker.on('message', (acks: Float64Array) => this.acknowledge(acks));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`the release thread ended unexpectedly (exit code ${code})`));
    });
  }

  private fail(err: Error): void {
    if (this.failed) return; // an 'error' is followed by an 'exit'
    this.failed = true;
    if (!this.onFailure) throw err;
    this.onFailure(err);
  }

  private acknowledge(acks: Float64Array): void {
    for (let i = 0; i + ACK_FIELDS <= acks.length; i += ACK_FIELDS) {
      const seq = acks[i] as number;
      const job = this.pending.get(seq);
      if (!job) continue;
      this.pending.delete(seq);
      this.ring.free(job.ringId);
      const r: Release = {
        written: acks[i + 1] as number,
        releaseNs: acks[i + 2] as number,
        lateNs: acks[i + 3] as number,
      };
      if (r.written !== 0) this.onLateness?.(r.lateNs, CAUSES[acks[i + 4] as number]);
      this.onOutcome?.(r.written < 0 ? 'failed' : r.written === job.length ? 'written' : 'handed_back');
      job.done(r);
    }
  }

  /** A pipe slot for a connection direction, or undefined when all are in use. */
  openPipe(): number | undefined {
    const p = this.freePipes.pop();
    if (p !== undefined) Atomics.store(this.v.pipes, p, PIPE_OPEN);
    return p;
  }

  /** Gives the slot back; only once nothing of the pipe is in flight. */
  closePipe(p: number): void {
    Atomics.store(this.v.pipes, p, PIPE_FREE);
    this.freePipes.push(p);
  }

  /**
   * From now on the thread writes nothing of this pipe: what it still holds comes back unwritten. Waits out a
   * write under way (a non-blocking syscall), so after this returns the socket may be closed.
   */
  hold(p: number): void {
    for (;;) {
      const s = Atomics.compareExchange(this.v.pipes, p, PIPE_OPEN, PIPE_HELD);
      if (s !== PIPE_WRITING) return;
    }
  }

  held(p: number): boolean {
    return Atomics.load(this.v.pipes, p) === PIPE_HELD;
  }

  /** Lets the thread write this pipe again; only once nothing of it is in flight. */
  reopen(p: number): void {
    Atomics.compareExchange(this.v.pipes, p, PIPE_HELD, PIPE_OPEN);
  }

  /** Hands a chunk over, to be written to `fd` at `dueNs`; false (nothing done) when there is no room. */
  submit(pipe: number, fd: number, dueNs: number, data: Uint8Array, done: (r: Release) => void): boolean {
    if (this.submitted - Atomics.load(this.v.ctl, CONSUMED) >= JOB_SLOTS) return false;
    const space = this.ring.alloc(data.length);
    if (!space) return false;
    this.v.data.set(data, space.offset);
    const seq = this.submitted;
    const lead = Number(Atomics.load(this.v.state, S_WAKE_LEAD)) || DEFAULT_EARLY_NS;
    writeJob(this.v, {
      seq,
      dueNs,
      fd,
      pipe,
      off: space.offset,
      len: data.length,
      // As in timer.ts: only chunks handed over ahead of the thread's wake-up teach its compensator.
      ahead: dueNs > nowNs() + lead,
    });
    this.pending.set(seq, { ringId: space.id, length: data.length, done });
    this.submitted = seq + 1;
    Atomics.store(this.v.ctl, SUBMITTED, this.submitted);
    // Wake the thread only if it sleeps past this chunk's wake-up; asleep for a later one or spinning, it
    // finds the chunk itself.
    const sleepUntil = Number(Atomics.load(this.v.state, S_SLEEP_UNTIL));
    if (sleepUntil !== 0 && dueNs - MAX_EARLY_NS < sleepUntil) {
      Atomics.add(this.v.ctl, GEN, 1);
      Atomics.notify(this.v.ctl, GEN);
    }
    return true;
  }

  /** The thread's self-tuning, for the timer gauges. */
  get wakeLeadNs(): number {
    return Number(Atomics.load(this.v.state, S_WAKE_LEAD));
  }
  get advanceNs(): number {
    return Number(Atomics.load(this.v.state, S_ADVANCE));
  }
  close(): Promise<number> {
    this.closing = true;
    return this.worker.terminate();
  }
}
