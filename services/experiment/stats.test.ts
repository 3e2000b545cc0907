// The statistics against known distributions: intervals that must hold the true quantile at least as often as
// they claim (checked by simulation, with the Monte Carlo error allowed for), exact values where there are
// closed forms, and the crossover finder on synthetic curves whose crossing is known.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRng } from '../topology/random.ts';
import { findCrossover } from './crossover.ts';
import {
  binomialPmf,
  holm,
  mannWhitney,
  normalCdf,
  orderStatisticInterval,
  quantileInterval,
  quantileSorted,
  valuesNeededOneSided,
  valuesNeededTwoSided,
} from './stats.ts';

const rng = seededRng(20261202);
const normal = () => {
  const u = Math.max(rng(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
};
/** Distributions with a known q-quantile: [name, draw, quantile(q)]. */
const DISTRIBUTIONS: Array<[string, () => number, (q: number) => number]> = [
  ['exponential (mean 10)', () => -10 * Math.log(1 - rng()), (q) => -10 * Math.log(1 - q)],
  [
    'lognormal (μ 3, σ 0.5), latency-like',
    () => Math.exp(3 + 0.5 * normal()),
    (q) => Math.exp(3 + 0.5 * probit(q)),
  ],
  ['uniform (12, 30)', () => 12 + 18 * rng(), (q) => 12 + 18 * q],
  ['Pareto (α 1.5), heavy-tailed', () => (1 - rng()) ** (-1 / 1.5), (q) => (1 - q) ** (-1 / 1.5)],
];

/** The inverse normal CDF by bisection on normalCdf (enough for test quantiles). */
function probit(q: number): number {
  let lo = -10;
  let hi = 10;
  for (let i = 0; i < 100; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

describe('order-statistic intervals', () => {
  it('need as many values as TriScale says (95%: median 6 two-sided, 5 one-sided; p90 29; p99 299)', () => {
    assert.equal(valuesNeededTwoSided(0.5, 0.95), 6);
    assert.equal(valuesNeededOneSided(0.5, 0.95), 5);
    assert.equal(valuesNeededOneSided(0.9, 0.95), 29);
    assert.equal(valuesNeededOneSided(0.95, 0.95), 59);
    assert.equal(valuesNeededOneSided(0.99, 0.95), 299);
  });

  it('have the exact binomial coverage they report', () => {
    // n = 10, median: ranks 2..9 hold it with P(2 ≤ B ≤ 8) = 1 − 2·(1 + 10)/1024.
    const i = orderStatisticInterval(10, 0.5, 0.95);
    assert.ok(i);
    assert.deepEqual([i.lowerRank, i.upperRank], [2, 9]);
    assert.ok(Math.abs(i.coverage - (1 - (2 * 11) / 1024)) < 1e-12);
    let total = 0;
    for (let k = 0; k <= 20; k++) total += binomialPmf(k, 20, 0.3);
    assert.ok(Math.abs(total - 1) < 1e-12);
  });

  it('say when there are too few values, with the confidence [min, max] does reach', () => {
    const e = quantileInterval([3, 1, 2], 0.5, 0.95);
    assert.equal(e.enough, false);
    assert.deepEqual([e.lower, e.estimate, e.upper], [1, 2, 3]);
    assert.equal(e.coverage, 0.75);
  });

  for (const [name, draw, quantile] of DISTRIBUTIONS) {
    for (const [q, n] of [
      [0.5, 6],
      [0.5, 15],
      [0.9, 45],
    ] as const) {
      it(`hold the true ${q}-quantile of a ${name} at least 95% of the time (n = ${n})`, () => {
        const truth = quantile(q);
        const trials = 2000;
        let hits = 0;
        let claimed = 0;
        for (let t = 0; t < trials; t++) {
          const e = quantileInterval(Array.from({ length: n }, draw), q, 0.95);
          assert.ok(e.enough);
          claimed += e.coverage;
          if (e.lower <= truth && truth <= e.upper) hits++;
        }
        const observed = hits / trials;
        const expected = claimed / trials;
        // 4 standard errors of a binomial proportion: a false alarm about once in 30,000 runs of this test.
        const se = Math.sqrt((expected * (1 - expected)) / trials);
        assert.ok(expected >= 0.95, `claimed coverage ${expected}`);
        assert.ok(observed >= expected - 4 * se, `observed ${observed}, claimed ${expected}`);
      });
    }
  }

  it('type-7 quantiles match numpy on a known sample', () => {
    const xs = [1, 2, 3, 4, 10];
    assert.equal(quantileSorted(xs, 0.5), 3);
    assert.ok(Math.abs(quantileSorted(xs, 0.9) - 7.6) < 1e-12);
    assert.equal(quantileSorted(xs, 0.25), 2);
  });
});

describe('paired differences (the edge’s advantage within each run)', () => {
  it('an interval on the median difference holds a known shift at least 95% of the time', () => {
    const shift = 18;
    const trials = 2000;
    let hits = 0;
    for (let t = 0; t < trials; t++) {
      // Each run: both sites see the same host noise (shared within the run) plus their own.
      const diffs = Array.from({ length: 8 }, () => {
        const host = -5 * Math.log(1 - rng());
        const edge = 12 + host + normal();
        const cloud = 12 + shift + host + normal();
        return cloud - edge;
      });
      const e = quantileInterval(diffs, 0.5, 0.95);
      if (e.lower <= shift && shift <= e.upper) hits++;
    }
    assert.ok(hits / trials >= 0.95 - 4 * Math.sqrt((0.95 * 0.05) / trials), `coverage ${hits / trials}`);
  });
});

describe('Mann–Whitney U', () => {
  it('exact p-values: 3 against 3 completely separated give p = 0.1, identical orders more', () => {
    assert.equal(mannWhitney([1, 2, 3], [4, 5, 6]).p, 0.1);
    assert.equal(mannWhitney([1, 2, 3], [4, 5, 6]).method, 'exact');
    assert.ok(mannWhitney([1, 3, 5], [2, 4, 6]).p > 0.5);
    assert.equal(mannWhitney([1, 2, 3], [4, 5, 6]).shift, 3);
  });
  it('holds its level under the null (about 5% rejections at α = 0.05) and finds a real shift', () => {
    let nullRejections = 0;
    let found = 0;
    const trials = 1000;
    for (let t = 0; t < trials; t++) {
      const a = Array.from({ length: 10 }, () => Math.exp(3 + 0.5 * normal()));
      const b = Array.from({ length: 10 }, () => Math.exp(3 + 0.5 * normal()));
      const c = b.map((x) => x * 2.2); // a shift of 1.6 σ in log terms
      if (mannWhitney(a, b).p < 0.05) nullRejections++;
      if (mannWhitney(a, c).p < 0.05) found++;
    }
    assert.ok(
      nullRejections / trials <= 0.05 + 4 * Math.sqrt((0.05 * 0.95) / trials),
      `type I ${nullRejections / trials}`,
    );
    assert.ok(found / trials > 0.8, `power ${found / trials}`);
  });
  it('uses the normal approximation with ties, and gives p = 1 for identical samples', () => {
    const r = mannWhitney([1, 1, 2, 2], [1, 1, 2, 2]);
    assert.equal(r.method, 'normal approximation');
    assert.equal(r.p, 1);
  });
  it('Holm adjusts in step-down order, never below the raw p', () => {
    assert.deepEqual(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06]);
  });
});

describe('crossover finder on synthetic curves', () => {
  const band = (x: number, f: (x: number) => number, half: number) => ({
    x,
    estimate: f(x),
    lower: f(x) - half,
    upper: f(x) + half,
  });

  it('finds the root of a falling line, with the interval where the band reaches zero', () => {
    const f = (x: number) => 20 - 0.5 * x; // zero at 40
    const r = findCrossover([0, 10, 20, 30, 50, 60, 80].map((x) => band(x, f, 5)));
    assert.ok(r.found);
    assert.ok(Math.abs(r.x - 40) < 1e-9);
    assert.equal(r.direction, 'edge-stops-winning');
    assert.ok(r.lower !== null && Math.abs(r.lower - 30) < 1e-9);
    assert.ok(r.upper !== null && Math.abs(r.upper - 50) < 1e-9);
  });

  it('finds a rising crossing (the edge starts winning as the cloud moves away)', () => {
    const f = (x: number) => x - 7;
    const r = findCrossover([1, 5, 10, 20].map((x) => band(x, f, 1)));
    assert.ok(r.found);
    assert.ok(Math.abs(r.x - 7) < 1e-9);
    assert.equal(r.direction, 'edge-starts-winning');
  });

  it('says "no crossover in range" when the edge wins everywhere', () => {
    const r = findCrossover([10, 20, 40].map((x) => band(x, () => 18, 1)));
    assert.equal(r.found, false);
    assert.match(
      r.found ? '' : r.reason,
      /^no crossover in range \(10–40\): the edge is faster at every level, beyond the intervals/,
    );
  });

  it('says so when the band reaches zero though the estimate does not', () => {
    const r = findCrossover([10, 20, 40].map((x) => band(x, (v) => 10 - v / 5, 4)));
    assert.equal(r.found, false);
    assert.match(r.found ? '' : r.reason, /though the interval reaches zero from 30/);
  });

  it('leaves an end of the interval open when the band crosses outside the levels', () => {
    const f = (x: number) => 10 - x;
    const r = findCrossover([5, 8, 11].map((x) => band(x, f, 8)));
    assert.ok(r.found);
    assert.equal(r.lower, null);
    assert.equal(r.upper, null);
  });

  it('recovers a noisy curve’s crossing within its interval most of the time', () => {
    let inside = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const points = [10, 20, 30, 40, 50, 60].map((x) => {
        const runs = Array.from({ length: 9 }, () => 25 - 0.6 * x + 3 * normal()); // zero at 41.67
        return { x, ...quantileInterval(runs, 0.5, 0.95) };
      });
      const r = findCrossover(points);
      if (r.found && (r.lower ?? 10) <= 41.67 && 41.67 <= (r.upper ?? 60)) inside++;
    }
    assert.ok(inside / trials >= 0.9, `inside ${inside / trials}`);
  });
});
