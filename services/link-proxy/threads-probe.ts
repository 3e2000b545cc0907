// Test support: what a process's threads look like after some setup, seen from inside a child process
// (nice is per thread, and the test runner's own threads must not move). The child runs `setup`, which must
// assign `result`, then starts the precise scheduler (as the service does after setting priorities) and
// reads every thread's name and nice value from /proc once the helper thread is up.
import { spawnSync } from 'node:child_process';

export interface ThreadsProbe {
  result: unknown;
  /** [thread name, nice value] for every thread of the child. */
  threads: Array<[string, number]>;
}

export function probeThreads(setup: string): ThreadsProbe {
  const here = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
  const script = `
    import { readdirSync, readFileSync } from 'node:fs';
    import { PreciseScheduler, setThreadNice } from ${here('./timer.ts')};
    import { setV8ThreadsNice } from ${here('./v8-threads.ts')};
    let result;
    ${setup}
    const s = new PreciseScheduler();
    s.at(0, () => setTimeout(() => {
      const threads = readdirSync('/proc/self/task').map((t) => {
        const stat = readFileSync('/proc/self/task/' + t + '/stat', 'utf8');
        return [readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim(), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
      });
      console.log(JSON.stringify({ result, threads }));
      s.close();
    }, 100));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.status !== 0) throw new Error(`the probe failed (${r.status ?? r.signal}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ThreadsProbe;
}

/** The nice values of the probed threads with that name. */
export function niceOf(probe: ThreadsProbe, name: string): number[] {
  return probe.threads.filter(([comm]) => comm === name).map(([, nice]) => nice);
}
