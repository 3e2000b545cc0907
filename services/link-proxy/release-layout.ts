// The memory the event loop and the release thread share (TIMER_MODE=writer, see release-thread.ts). Both
// sides build their views from the same buffers with this one function, so the layout is written once.

/** Jobs the event loop may have handed over and the release thread not yet taken. */
export const JOB_SLOTS = 8192;
/** Connection directions (pipes) that can hand chunks over at once; more fall back to the event loop. */
export const PIPE_SLOTS = 8192;
/** Bytes of chunk data waiting in the release thread; a chunk that does not fit stays on the event loop. */
export const DATA_BYTES = 8 * 1024 * 1024;
/** Larger chunks are bulk transfers, where a copy costs more than a wake-up: the event loop writes them. */
export const MAX_HANDOVER_BYTES = 64 * 1024;

// ctl[] indexes
export const GEN = 0; // futex word: bumped to interrupt the release thread's sleep
export const SUBMITTED = 1; // jobs handed over so far (written by the event loop)
export const CONSUMED = 2; // jobs taken so far (written by the release thread)

// Fields of a job (Int32 per field; its deadline is in `due`).
const F_FD = 0;
const F_PIPE = 1;
const F_OFF = 2;
const F_LEN = 3;
const F_AHEAD = 4;
const JOB_FIELDS = 5;

// A pipe's state: the lock that keeps the release thread from writing to a socket being closed.
export const PIPE_FREE = 0;
export const PIPE_OPEN = 1; // the release thread may write its jobs
export const PIPE_WRITING = 2; // it is writing one now (the event loop waits before closing)
export const PIPE_HELD = 3; // it hands this pipe's jobs back unwritten (stall, short write, closing)

// What the release thread reports per job: [seq, written, releaseNs, lateNs, cause], written −1: the write
// failed (the connection is broken; the event loop sees it too).
export const ACK_FIELDS = 5;
export const CAUSE_NONE = 0;
export const CAUSE_TIMER_THREAD = 1;
export const CAUSE_LOOP_BUSY = 2;

export interface ReleaseBuffers {
  ctl: SharedArrayBuffer;
  /** [sleepUntilNs, wakeLeadNs, advanceNs]: what the release thread is doing and how it has tuned itself. */
  state: SharedArrayBuffer;
  due: SharedArrayBuffer;
  jobs: SharedArrayBuffer;
  pipes: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function allocateBuffers(): ReleaseBuffers {
  return {
    ctl: new SharedArrayBuffer(4 * 4),
    state: new SharedArrayBuffer(3 * 8),
    due: new SharedArrayBuffer(JOB_SLOTS * 8),
    jobs: new SharedArrayBuffer(JOB_SLOTS * JOB_FIELDS * 4),
    pipes: new SharedArrayBuffer(PIPE_SLOTS * 4),
    data: new SharedArrayBuffer(DATA_BYTES),
  };
}

export function views(b: ReleaseBuffers) {
  return {
    ctl: new Int32Array(b.ctl),
    state: new BigInt64Array(b.state),
    due: new Float64Array(b.due),
    jobs: new Int32Array(b.jobs),
    pipes: new Int32Array(b.pipes),
    data: new Uint8Array(b.data),
  };
}

// state[] indexes; sleepUntil is 0 while the release thread is awake and checking for jobs, MAX while it has
// none (then every hand-over wakes it).
export const S_SLEEP_UNTIL = 0;
export const S_WAKE_LEAD = 1;
export const S_ADVANCE = 2;
export const SLEEP_IDLE = 2n ** 62n;

/** A chunk handed over: write `len` bytes at `off` of the data ring to `fd` at `dueNs`. */
export interface Job {
  seq: number;
  dueNs: number;
  fd: number;
  pipe: number;
  off: number;
  len: number;
  /** Handed over ahead of the thread's wake-up: only such jobs teach its lateness compensator. */
  ahead: boolean;
}

type Views = ReturnType<typeof views>;

/** Stores job `seq` in its slot (the event loop, before it publishes SUBMITTED). */
export function writeJob(v: Views, j: Job): void {
  const slot = j.seq % JOB_SLOTS;
  const f = slot * JOB_FIELDS;
  v.due[slot] = j.dueNs;
  v.jobs[f + F_FD] = j.fd;
  v.jobs[f + F_PIPE] = j.pipe;
  v.jobs[f + F_OFF] = j.off;
  v.jobs[f + F_LEN] = j.len;
  v.jobs[f + F_AHEAD] = j.ahead ? 1 : 0;
}

/** Reads job `seq` from its slot (the release thread, before it publishes CONSUMED past it). */
export function readJob(v: Views, seq: number): Job {
  const slot = seq % JOB_SLOTS;
  const f = slot * JOB_FIELDS;
  return {
    seq,
    dueNs: v.due[slot] as number,
    fd: v.jobs[f + F_FD] as number,
    pipe: v.jobs[f + F_PIPE] as number,
    off: v.jobs[f + F_OFF] as number,
    len: v.jobs[f + F_LEN] as number,
    ahead: v.jobs[f + F_AHEAD] === 1,
  };
}
