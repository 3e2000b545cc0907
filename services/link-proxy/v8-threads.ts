// V8's background threads, at a lower priority than the threads that time releases. V8 compiles hot
// functions (Maglev, Turbofan) and helps the garbage collector on a pool of platform threads Node names
// "V8Worker". A compile takes 1-9 ms of CPU. On a host with few CPUs, the event loop or the timer thread
// woken while one runs can wait for that CPU until the compile's time slice ends: in `perf sched` traces at
// 1 ms and 200 requests/s, the proxy's own V8Worker threads were behind most of its waits of more than
// 0.3 ms. Raising their nice value needs no privilege (lowering it would), and the kernel then lets the
// proxy's woken threads in at once. Linux keeps nice per thread, so nothing else moves.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';

/** Node's name for V8's platform worker threads (uv_thread_setname in node_platform.cc). */
export const V8_THREAD_NAME = 'V8Worker';

/** The thread ids among `threads` (tid, comm) that are V8's background threads. Pure. */
export function v8ThreadIds(threads: ReadonlyArray<{ tid: number; comm: string }>): number[] {
  return threads.filter((t) => t.comm === V8_THREAD_NAME).map((t) => t.tid);
}

/**
 * The ids of a process's V8 background threads, from /proc/<pid>/task (this process's by default). Throws
 * where /proc cannot be read. The benchmarks read other processes' with it too.
 */
export function v8ThreadsOf(pid: number | 'self' = 'self'): number[] {
  return v8ThreadIds(
    readdirSync(`/proc/${pid}/task`).map((tid) => ({
      tid: Number(tid),
      comm: readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim(),
    })),
  );
}

/**
 * Sets the nice value of this process's V8 background threads. Returns how many were set, or why none could
 * be (no /proc, no thread by that name, or the kernel refused).
 */
export function setV8ThreadsNice(nice: number): { set: number } | { failed: string } {
  let ids: number[];
  try {
    ids = v8ThreadsOf();
  } catch (err) {
    return { failed: `cannot list this process's threads: ${(err as Error).message}` };
  }
  if (ids.length === 0)
    return { failed: `no thread named ${V8_THREAD_NAME} (this Node names them otherwise)` };
  try {
    // On Linux setpriority(PRIO_PROCESS, tid) sets that one thread.
    for (const tid of ids) os.setPriority(tid, nice);
  } catch (err) {
    return { failed: (err as Error).message };
  }
  return { set: ids.length };
}
