// The fidelity benchmark's verdict: the targets, and "no worse than Toxiproxy" judged against the
// sampling noise of the two percentiles.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type JudgedPoint, verdict, versus } from './fidelity-target.ts';

const point = (over: Partial<JudgedPoint>): JudgedPoint => ({
  rate: 1000,
  noise: { p50: 0.01, p99: 0.05 },
  proxy: { p50: 0.1, p99: 0.5 },
  toxi: { p50: 0.3, p99: 0.7 },
  ...over,
});

describe('versus Toxiproxy', () => {
  it('compares the size of the errors, not their sign', () => {
    assert.equal(versus(-0.2, 0.3, 0.01), 'no worse');
    assert.equal(versus(0.2, -0.3, 0.01), 'no worse');
    assert.equal(versus(-0.4, 0.3, 0.01), 'worse');
  });
  it('calls a difference inside √2 × noise unresolved, and one beyond it worse', () => {
    assert.equal(versus(0.5, 0.4, 0.1), 'within noise'); // 0.1 ≤ 0.141
    assert.equal(versus(0.6, 0.4, 0.1), 'worse'); // 0.2 > 0.141
    assert.equal(versus(0.4, 0.4, 0), 'no worse');
    assert.equal(versus(0.41, 0.4, 0), 'worse');
  });
});

describe('verdict', () => {
  it('meets the targets when inside the bounds and no worse than Toxiproxy', () => {
    assert.deepEqual(verdict(point({})), { met: true, misses: [], unresolved: [] });
  });
  it('holds the absolute bounds at 1,000 requests/s only', () => {
    const off = point({ proxy: { p50: -0.35, p99: 1.2 }, toxi: null });
    assert.deepEqual(verdict(off).misses, ['|p50 err| -0.35 ≥ 0.3', '|p99 err| 1.20 ≥ 1']);
    assert.equal(verdict({ ...off, rate: 200 }).met, true);
  });
  it('misses a point where Toxiproxy is better by more than the noise, at any rate', () => {
    const v = verdict(point({ rate: 200, proxy: { p50: 0.15, p99: 1.2 }, toxi: { p50: 0.3, p99: 0.4 } }));
    assert.equal(v.met, false);
    assert.deepEqual(v.misses, ['p99 0.80 worse than Toxiproxy (noise ±0.07)']);
  });
  it('reports a loss inside the noise without counting it', () => {
    const v = verdict(
      point({
        noise: { p50: 0.36, p99: 0.5 },
        proxy: { p50: -0.12, p99: 0.2 },
        toxi: { p50: -0.06, p99: 0.1 },
      }),
    );
    assert.equal(v.met, true);
    assert.equal(v.unresolved.length, 2);
  });
  it('fails a NaN error (nothing measured) rather than passing it', () => {
    assert.equal(verdict(point({ proxy: { p50: Number.NaN, p99: 0.5 }, toxi: null })).met, false);
  });
});
