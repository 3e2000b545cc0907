// V8_THREADS_NICE: V8's background threads, and only they, get the nice value.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { niceOf, probeThreads } from './threads-probe.ts';
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
    // As the service does: V8's threads first, then the scheduler starts its helper thread.
    const probe = probeThreads('result = setV8ThreadsNice(7);');
    const v8 = niceOf(probe, V8_THREAD_NAME);
    assert.ok(v8.length > 0, `no ${V8_THREAD_NAME} thread in ${JSON.stringify(probe.threads)}`);
    assert.deepEqual(probe.result, { set: v8.length });
    assert.ok(
      v8.every((n) => n === 7),
      JSON.stringify(probe.threads),
    );
    assert.deepEqual(niceOf(probe, 'MainThread'), [0], JSON.stringify(probe.threads));
    assert.deepEqual(niceOf(probe, 'WorkerThread'), [0], JSON.stringify(probe.threads));
  });
});
