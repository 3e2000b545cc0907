// The dev testbed's children have process groups of their own (so a Ctrl-C reaches the launcher alone and the stop
// is ordered), which also means nothing stops them when the launcher is killed outright (SIGKILL, an OOM kill):
// no handler of the launcher runs then. This small process outlives it for that case. The launcher writes each
// child's pid to its stdin; when stdin ends (the launcher exited, by any means) it sends SIGTERM to every child
// still alive in the order it was given, then SIGKILL to what is left after the drain time, and exits.
// A stop the launcher completed itself leaves nobody alive, so the reaper then just exits.
import { createInterface } from 'node:readline';

const drainMs = Number(process.argv[2] ?? 10) * 1000 + 2000;
const pids: number[] = [];

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

// Ctrl-C in the terminal reaches this process's group too: only the end of stdin stops it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const pid = Number(line);
    if (Number.isInteger(pid) && pid > 0) pids.push(pid);
  })
  .on('close', async () => {
    const left = pids.filter(alive);
    for (const pid of left) process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + drainMs;
    while (left.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const pid of left.filter(alive)) process.kill(pid, 'SIGKILL');
    process.exit(0);
  });
