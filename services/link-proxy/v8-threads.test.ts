// V8_THREADS_NICE: V8's background threads, and only they, get the nice value.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { V8_THREAD_NAME, v8ThreadIds } from './v8-threads.ts';

describe("V8's background threads", () => {
  it('are picked by their thread name alone', () => {
    const threads = [
      { tid: 10, comm: 'MainThread' },
      { tid: 11, comm: V8_THREAD_NAME },
      { tid: 12, comm: 'WorkerThread' },
      { tid: 13, comm: V8_THREAD_NAME },
      { tid: 14, comm: 'libuv-worker' },
    ];
    assert.deepEqual(v8ThreadIds(threads), [11, 13]);
    assert.deepEqual(v8ThreadIds([]), []);
  });

  it("get the nice value in a real process; the event loop and the timer's helper thread keep theirs", () => {
    // In a child: nice is per thread, and this test runner's threads must not move.
    const script = `
      import { readdirSync, readFileSync } from 'node:fs';
      import { setV8ThreadsNice } from ${JSON.stringify(new URL('./v8-threads.ts', import.meta.url).href)};
      import { PreciseScheduler } from ${JSON.stringify(new URL('./timer.ts', import.meta.url).href)};
      const s = new PreciseScheduler();
      const result = setV8ThreadsNice(7);
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
    assert.equal(r.status, 0, r.stderr);
    const { result, threads } = JSON.parse(r.stdout) as {
      result: { set?: number; failed?: string };
      threads: Array<[string, number]>;
    };
    const niceOf = (name: string) => threads.filter(([comm]) => comm === name).map(([, n]) => n);
    const v8 = niceOf(V8_THREAD_NAME);
    assert.ok(v8.length > 0, `no ${V8_THREAD_NAME} thread in ${JSON.stringify(threads)}`);
    assert.deepEqual(result, { set: v8.length });
    assert.ok(
      v8.every((n) => n === 7),
      JSON.stringify(threads),
    );
    assert.deepEqual(niceOf('MainThread'), [0], JSON.stringify(threads));
    assert.deepEqual(niceOf('WorkerThread'), [0], JSON.stringify(threads));
  });
});
