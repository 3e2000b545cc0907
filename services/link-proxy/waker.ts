// The scheduler's helper thread (timer.ts): sleeps until the armed wake time, then posts one message (what it
// was armed for, when it woke). The event loop arms it by storing a wake time and bumping the generation,
// which interrupts a sleep; compareExchange makes sure a wake time re-armed during the post is not lost.
import { parentPort, workerData } from 'node:worker_threads';

const { sab, epoch } = workerData as { sab: SharedArrayBuffer; epoch: bigint };
const gen = new Int32Array(sab, 0, 1);
const wake = new BigInt64Array(sab, 8, 1);
for (;;) {
  const g = Atomics.load(gen, 0);
  const w = Atomics.load(wake, 0);
  if (w === 0n) {
    Atomics.wait(gen, 0, g);
    continue;
  }
  const now = process.hrtime.bigint() - epoch;
  if (now < w) {
    Atomics.wait(gen, 0, g, Number(w - now) / 1e6);
    continue;
  }
  if (Atomics.compareExchange(wake, 0, w, 0n) === w) parentPort?.postMessage([Number(w), Number(now)]);
}
