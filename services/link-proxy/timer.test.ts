import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRng } from './jitter.ts';
import { nextStep, nowNs, PreciseScheduler, TIMER_MODES, TimerHeap } from './timer.ts';

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

describe('scheduler', () => {
  for (const mode of TIMER_MODES) {
    it(`${mode}: runs every callback, never before its deadline, in deadline order, skipping cancelled ones`, async () => {
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
        assert.ok(
          ran.every((r) => r.at >= r.due),
          'a callback ran early',
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
