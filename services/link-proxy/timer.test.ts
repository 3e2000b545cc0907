import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRng } from './jitter.ts';
import { niceOf, probeThreads } from './threads-probe.ts';
import {
  ADVANCE_STEP_NS,
  COALESCE_NS,
  DEFAULT_MAX_ADVANCE_NS,
  DEFAULT_WAKE_MAX_ADVANCE_NS,
  defaultMaxAdvanceNs,
  EARLY_STEP_NS,
  LATE_RELEASE_NS,
  type LateCause,
  lateCause,
  MAX_EARLY_NS,
  MIN_EARLY_NS,
  nextAdvance,
  nextEarly,
  nextStep,
  nowNs,
  PreciseScheduler,
  setThreadNice,
  TIMER_MODES,
  TimerHeap,
  type TimerMode,
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

describe('next step', () => {
  it('runs what is due, spins the last fraction, sleeps until shortly before the rest', () => {
    assert.deepEqual(nextStep(100, 100, 30), { kind: 'run' });
    assert.deepEqual(nextStep(100, 90, 30), { kind: 'run' });
    assert.deepEqual(nextStep(100, 130, 30), { kind: 'spin' });
    assert.deepEqual(nextStep(100, 131, 30), { kind: 'sleep', wakeNs: 101 });
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

describe('adaptive wake-up lead', () => {
  it('a wake-up later than the lead raises it nine steps, one in time lowers it one, within bounds', () => {
    assert.equal(nextEarly(100_000, 120_000, MIN_EARLY_NS, MAX_EARLY_NS), 100_000 + 9 * EARLY_STEP_NS);
    assert.equal(nextEarly(100_000, 80_000, MIN_EARLY_NS, MAX_EARLY_NS), 100_000 - EARLY_STEP_NS);
    assert.equal(nextEarly(MAX_EARLY_NS, 5e6, MIN_EARLY_NS, MAX_EARLY_NS), MAX_EARLY_NS);
    assert.equal(nextEarly(MIN_EARLY_NS, 0, MIN_EARLY_NS, MAX_EARLY_NS), MIN_EARLY_NS);
  });
  it('settles where nine wake-ups in ten arrive in time', () => {
    const rng = seededRng(5);
    // Wake-up lateness uniform over 40–240 µs: its 90th percentile is 220 µs.
    let early = 100_000;
    let inTime = 0;
    for (let i = 0; i < 40_000; i++) {
      const late = 40_000 + rng() * 200_000;
      if (i >= 20_000 && late <= early) inTime++;
      early = nextEarly(early, late, MIN_EARLY_NS, MAX_EARLY_NS);
    }
    assert.ok(Math.abs(early - 220_000) < 15_000, `lead ${early} ns`);
    assert.ok(Math.abs(inTime / 20_000 - 0.9) < 0.02, `in time ${inTime / 20_000}`);
  });
});

describe('thread priority (TIMER_NICE)', () => {
  it('sets the event loop thread and the helper thread the scheduler starts after it', () => {
    const probe = probeThreads('result = setThreadNice(5);');
    assert.equal(probe.result, undefined);
    assert.deepEqual(niceOf(probe, 'MainThread'), [5], JSON.stringify(probe.threads));
    assert.deepEqual(niceOf(probe, 'WorkerThread'), [5], JSON.stringify(probe.threads));
  });
  it('says why it could not, instead of throwing', () => {
    assert.equal(typeof setThreadNice(99), 'string');
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
    [
      'no wake-up at all (coarse timers, or a deadline reached while spinning)',
      undefined,
      12 * ms,
      'loop_busy',
    ],
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
  it('names where a late release lost its time: the event loop woken late, or busy after waking', async () => {
    const s = new PreciseScheduler();
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
      // 3: a release in time has no cause.
      start = nowNs();
      id = 'in_time';
      await new Promise<void>((r) => s.at(start + 3e6, () => r()));
    } finally {
      s.close();
    }
    // (A host stall can make the in-time release late too; that one is not part of the claim.)
    const late = seen.filter((x) => x.late > LATE_RELEASE_NS && x.id !== 'in_time');
    assert.deepEqual(
      late.map((x) => [x.id, x.cause]),
      [
        ['loop_wake', 'loop_wake'],
        ['loop_busy', 'loop_busy'],
      ],
      JSON.stringify(seen),
    );
    assert.ok(seen.filter((x) => x.late <= LATE_RELEASE_NS).every((x) => x.cause === undefined));
  });

  it('bounds the compensator by mode: none in coarse mode, 50 µs, and 200 µs in wake mode', () => {
    assert.deepEqual(Object.fromEntries(TIMER_MODES.map((m) => [m, defaultMaxAdvanceNs(m)])), {
      precise: 50_000,
      coarse: 0,
      spin: 50_000,
      wake: 200_000,
      // The release thread writes itself: no hop to the event loop to absorb (its bound, release-worker.ts).
      writer: 50_000,
    });
    assert.equal(DEFAULT_MAX_ADVANCE_NS, 50_000);
    assert.equal(DEFAULT_WAKE_MAX_ADVANCE_NS, 200_000);
  });
  for (const mode of TIMER_MODES) {
    it(`${mode}: runs every callback, never early beyond the bound, in deadline order, skipping cancelled ones`, async () => {
      const s = new PreciseScheduler({ mode });
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
        const bound = defaultMaxAdvanceNs(mode) + COALESCE_NS;
        assert.ok(
          ran.every((r) => r.at >= r.due - bound),
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
  }
  it('coarse mode (the setTimeout baseline) never learns an advance, however late it runs', async () => {
    const s = new PreciseScheduler({ mode: 'coarse' });
    try {
      const start = nowNs();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => new Promise<void>((r) => s.at(start + 2e6 + i * 1e5, r))),
      );
      assert.equal(s.advanceNs, 0);
    } finally {
      s.close();
    }
  });
  it('wake mode never spins: the helper thread runs each release, where spin mode passes through the loop for each', async () => {
    const deadlines = 20;
    /** setImmediate calls (the spin's passes) while the scheduler runs `deadlines` releases 2 ms apart. */
    const passes = async (mode: TimerMode) => {
      const real = globalThis.setImmediate;
      let calls = 0;
      globalThis.setImmediate = ((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
        calls++;
        return real(fn, ...args);
      }) as typeof setImmediate;
      const s = new PreciseScheduler({ mode });
      try {
        // Once the helper thread is up (a worker takes tens of ms to start; deadlines before then run late).
        await new Promise<void>((r) => s.at(nowNs() + 20e6, r));
        calls = 0;
        const start = nowNs();
        for (let i = 1; i <= deadlines; i++) await new Promise<void>((r) => s.at(start + i * 2e6, r));
        return calls;
      } finally {
        globalThis.setImmediate = real;
        s.close();
      }
    };
    const wake = await passes('wake');
    // The probe sees spinning: spin mode runs every release from a pass (precise mode spins only when the
    // helper's wake-up arrives before the deadline, which a loaded host does not promise).
    const spin = await passes('spin');
    assert.ok(wake < deadlines / 2, `wake mode made ${wake} passes for ${deadlines} releases`);
    assert.ok(spin >= deadlines, `spin mode made ${spin} passes for ${deadlines} releases`);
  });
  it('a deadline in the past runs at once', async () => {
    const s = new PreciseScheduler();
    try {
      await new Promise<void>((resolve) => s.at(0, resolve));
      assert.equal(s.pending, 0);
    } finally {
      s.close();
    }
  });
});
