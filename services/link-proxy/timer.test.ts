import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRng } from './jitter.ts';
import {
  ADVANCE_STEP_NS,
  COALESCE_NS,
  clampDeadline,
  LATE_RELEASE_NS,
  type LateCause,
  lateCause,
  MAX_ADVANCE_NS,
  MAX_AHEAD_NS,
  nextAdvance,
  nowNs,
  Scheduler,
  TimerHeap,
} from './timer.ts';

describe('timer heap', () => {
  it('pops by deadline, equal deadlines in insertion order', () => {
    const heap = new TimerHeap();
    const rng = seededRng(1);
    const entries = Array.from({ length: 500 }, (_, seq) => ({
      dueNs: Math.floor(rng() * 50),
      seq,
      fn: () => {},
      cancelled: false,
      ahead: true,
    }));
    for (const e of entries) heap.push(e);
    const out: Array<[number, number]> = [];
    for (let e = heap.pop(); e; e = heap.pop()) out.push([e.dueNs, e.seq]);
    const want = entries
      .map((e): [number, number] => [e.dueNs, e.seq])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    assert.deepEqual(out, want);
    assert.equal(heap.size, 0);
  });
});

describe('deadline clamp', () => {
  it('keeps a deadline within a day ahead; one that is not a number runs at once', () => {
    const now = 5e9;
    assert.equal(clampDeadline(now + 1e6, now), now + 1e6);
    assert.equal(clampDeadline(now - 1e6, now), now - 1e6);
    assert.equal(clampDeadline(Number.POSITIVE_INFINITY, now), now + MAX_AHEAD_NS);
    assert.equal(clampDeadline(1e300, now), now + MAX_AHEAD_NS);
    assert.equal(clampDeadline(Number.NEGATIVE_INFINITY, now), 0);
    assert.equal(clampDeadline(Number.NaN, now), now);
    // The helper's clock is a signed 64-bit count of nanoseconds: every clamped deadline fits it.
    assert.ok(BigInt(Math.ceil(clampDeadline(Number.MAX_VALUE, now))) < 2n ** 63n);
  });
});

describe('lateness compensator', () => {
  it('steps up after a late release, down after an early one, stays put on time', () => {
    assert.equal(nextAdvance(10_000, 3_000, 50_000), 10_000 + ADVANCE_STEP_NS);
    assert.equal(nextAdvance(10_000, -3_000, 50_000), 10_000 - ADVANCE_STEP_NS);
    assert.equal(nextAdvance(10_000, 0, 50_000), 10_000);
  });
  it('never advances past the bound nor below zero, however late or early', () => {
    assert.equal(nextAdvance(50_000, 5e6, 50_000), 50_000);
    assert.equal(nextAdvance(0, -1e6, 50_000), 0);
    assert.equal(nextAdvance(0, 1e6, 0), 0);
  });
  it('settles on the median lateness, not the mean: rare long stalls do not pull it', () => {
    const rng = seededRng(3);
    // Wake-up lateness without compensation: mostly 20–40 µs, 2% stalls of 2–5 ms (mean ≈ 100 µs).
    const raw = () => (rng() < 0.02 ? 2e6 + rng() * 3e6 : 20_000 + rng() * 20_000);
    let advance = 0;
    const late: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const l = raw() - advance;
      advance = nextAdvance(advance, l, 50_000);
      if (i >= 10_000) late.push(l);
    }
    late.sort((a, b) => a - b);
    const median = late[late.length >> 1] as number;
    assert.ok(Math.abs(median) <= 2_000, `median lateness ${median} ns`);
    assert.ok(advance > 25_000 && advance < 35_000, `advance ${advance} ns`);
  });
});

describe('late release cause', () => {
  const ms = 1e6;
  const window = 0.5 * ms;
  // A deadline at 10 ms; the helper armed 0.1 ms before it.
  const cases: Array<[string, Parameters<typeof lateCause>[2], number, LateCause]> = [
    [
      'the helper woke 3 ms late',
      { wakeNs: 9.9 * ms, postNs: 12.9 * ms, recvNs: 13 * ms },
      13 * ms,
      'timer_thread',
    ],
    [
      'the helper was in time, the loop woke 2 ms late',
      { wakeNs: 9.9 * ms, postNs: 9.9 * ms, recvNs: 12 * ms },
      12 * ms,
      'loop_wake',
    ],
    [
      'the wake-up was in time, the release 2 ms later',
      { wakeNs: 9.9 * ms, postNs: 9.9 * ms, recvNs: 9.95 * ms },
      12 * ms,
      'loop_busy',
    ],
    [
      'the wake-up was armed for an earlier deadline',
      { wakeNs: 5 * ms, postNs: 8 * ms, recvNs: 8 * ms },
      12 * ms,
      'loop_busy',
    ],
    [
      'the wake-up was armed for a later deadline',
      { wakeNs: 10.5 * ms, postNs: 13 * ms, recvNs: 13 * ms },
      13 * ms,
      'loop_busy',
    ],
    ['no wake-up at all (a deadline already due when it was set)', undefined, 12 * ms, 'loop_busy'],
  ];
  for (const [what, wake, releaseNs, want] of cases)
    it(`${what}: ${want}`, () => assert.equal(lateCause(10 * ms, releaseNs, wake, window), want));
});

/** Holds the event loop for `ns` (what a descheduled or busy proxy looks like from inside). */
function block(ns: number): void {
  const until = nowNs() + ns;
  while (nowNs() < until);
}

describe('scheduler', () => {
  it('names where a late release lost its time: the event loop woken late, or busy after waking', async (t) => {
    /** One run of the two scenarios; the causes of its late releases. */
    const attempt = async () => {
      const s = new Scheduler();
      const seen: Array<{ id: string; late: number; cause: LateCause | undefined }> = [];
      let id = '';
      s.onLateness = (late, cause) => seen.push({ id, late, cause });
      try {
        // The helper thread takes some milliseconds to start: until it runs, every wake-up is its fault.
        await new Promise<void>((r) => s.at(nowNs() + 50e6, () => r()));
        seen.length = 0;
        // 1: the helper posts in time, but the loop is blocked past the deadline, so it reads the post late.
        let start = nowNs();
        let ran = new Promise<void>((r) => s.at(start + 3e6, () => r()));
        id = 'loop_wake';
        block(7e6);
        await ran;
        // 2: the loop takes the wake-up in time, then a callback keeps it 3 ms past the next deadline.
        start = nowNs();
        ran = new Promise<void>((r) => {
          s.at(start + 3e6, () => block(3e6));
          s.at(start + 3.2e6, () => r());
        });
        id = 'loop_busy';
        await ran;
      } finally {
        s.close();
      }
      assert.ok(seen.filter((x) => x.late <= LATE_RELEASE_NS).every((x) => x.cause === undefined));
      return seen.filter((x) => x.late > LATE_RELEASE_NS).map((x) => [x.id, x.cause]);
    };
    const want = [
      ['loop_wake', 'loop_wake'],
      ['loop_busy', 'loop_busy'],
    ];
    // A host that wakes the helper thread itself late turns the first into timer_thread, rightly; such a run says
    // nothing about the loop, so up to three are made.
    const runs: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      runs.push(await attempt());
      if (JSON.stringify(runs.at(-1)) === JSON.stringify(want)) break;
    }
    if (runs.length > 1) t.diagnostic(`runs: ${JSON.stringify(runs)}`);
    assert.deepEqual(runs.at(-1), want, JSON.stringify(runs));
  });

  it('runs every callback, never early beyond the bound, in deadline order, skipping cancelled ones', async () => {
    const s = new Scheduler();
    try {
      const start = nowNs();
      const rng = seededRng(9);
      const ran: Array<{ due: number; at: number; id: number }> = [];
      const deadlines = Array.from({ length: 60 }, () => start + rng() * 20e6); // within 20 ms
      const done = new Promise<void>((resolve) => {
        let left = deadlines.length - 10;
        deadlines.forEach((due, id) => {
          const h = s.at(due, () => {
            ran.push({ due, at: nowNs(), id });
            if (--left === 0) resolve();
          });
          if (id % 6 === 0) h.cancel();
        });
      });
      await done;
      assert.equal(ran.length, 50);
      assert.ok(ran.every((r) => r.id % 6 !== 0));
      // Early only by the compensator's bound (plus the coalescing window), never more.
      assert.ok(
        ran.every((r) => r.at >= r.due - MAX_ADVANCE_NS - COALESCE_NS),
        'a callback ran earlier than the bound',
      );
      const dues = ran.map((r) => r.due);
      assert.deepEqual(
        dues,
        [...dues].sort((a, b) => a - b),
      );
    } finally {
      s.close();
    }
  });
  it('never spins: the helper thread wakes the loop once per release, with no passes in between', async () => {
    const deadlines = 20;
    const real = globalThis.setImmediate;
    let calls = 0;
    globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
      calls++;
      return real(fn, ...args);
    }) as typeof setImmediate;
    const s = new Scheduler();
    try {
      // Once the helper thread is up (a worker takes tens of ms to start; deadlines before then run late).
      await new Promise<void>((r) => s.at(nowNs() + 20e6, r));
      calls = 0;
      const start = nowNs();
      for (let i = 1; i <= deadlines; i++) await new Promise<void>((r) => s.at(start + i * 2e6, r));
    } finally {
      globalThis.setImmediate = real;
      s.close();
    }
    assert.ok(calls < deadlines / 2, `${calls} passes through the loop for ${deadlines} releases`);
  });
  it('a deadline that is not a number, or beyond its clock, neither throws nor holds the others', async () => {
    const s = new Scheduler();
    try {
      const ran: string[] = [];
      s.at(Number.POSITIVE_INFINITY, () => ran.push('infinite'));
      s.at(1e30, () => ran.push('beyond'));
      await new Promise<void>((r) => {
        s.at(Number.NaN, () => ran.push('nan'));
        s.at(nowNs() + 2e6, () => {
          ran.push('next');
          r();
        });
      });
      assert.deepEqual(ran, ['nan', 'next']);
      assert.equal(s.pending, 2);
    } finally {
      s.close();
    }
  });
  it('a deadline in the past runs at once', async () => {
    const s = new Scheduler();
    try {
      await new Promise<void>((resolve) => s.at(0, resolve));
      assert.equal(s.pending, 0);
    } finally {
      s.close();
    }
  });
});
