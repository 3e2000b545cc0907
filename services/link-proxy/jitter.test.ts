import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Impairment, JITTER_DISTRIBUTIONS } from '../topology/index.ts';
import { delayBounds, drawDelay, jitterQuantile, normalQuantile, seededRng, TABLE_MAX } from './jitter.ts';

const link = (over: Partial<Impairment>): Impairment => ({
  latencySeconds: 0.01,
  jitterSeconds: 0.002,
  distribution: 'normal',
  loss: 0,
  rateBitsPerSecond: null,
  ...over,
});

function sample(imp: Impairment, n = 20000, seed = 7): number[] {
  const rng = seededRng(seed);
  return Array.from({ length: n }, () => drawDelay(imp, rng)).sort((a, b) => a - b);
}
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));

describe('seeded RNG', () => {
  it('replays the same draws from the same seed and stays in [0, 1)', () => {
    const a = seededRng(42);
    const b = seededRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(
      xs,
      Array.from({ length: 1000 }, () => b()),
    );
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    assert.ok(Math.abs(mean(xs) - 0.5) < 0.05);
  });
});

describe('normal quantile', () => {
  it('matches known values of the standard normal', () => {
    for (const [p, z] of [
      [0.5, 0],
      [0.8413447, 1],
      [0.9772499, 2],
      [0.0013499, -3],
      [0.975, 1.959964],
    ] as const) {
      assert.ok(Math.abs(normalQuantile(p) - z) < 1e-5, `Φ⁻¹(${p}) = ${normalQuantile(p)}, want ${z}`);
    }
    assert.equal(normalQuantile(0), Number.NEGATIVE_INFINITY);
  });
});

describe('jitter quantiles (netem tables)', () => {
  it('are increasing in p for every distribution and clipped to the table range', () => {
    for (const d of JITTER_DISTRIBUTIONS) {
      let prev = Number.NEGATIVE_INFINITY;
      for (let i = 0; i <= 1000; i++) {
        const x = jitterQuantile(d, i / 1000 - (i === 1000 ? 1e-12 : 0));
        assert.ok(x >= prev, `${d} not monotone at ${i}`);
        assert.ok(x <= TABLE_MAX && x >= -4, `${d} out of table range: ${x}`);
        prev = x;
      }
    }
  });
  it('uniform spans exactly ±1 jitter; pareto starts at -2/3 (netem pareto.c)', () => {
    assert.equal(jitterQuantile('uniform', 0), -1);
    assert.equal(jitterQuantile('uniform', 0.5), 0);
    assert.ok(Math.abs(jitterQuantile('pareto', 0) + 2 / 3) < 1e-12);
    assert.ok(
      Math.abs(jitterQuantile('paretonormal', 0.5) - (0 + 3 * jitterQuantile('pareto', 0.5)) / 4) < 1e-12,
    );
  });
});

describe('delay draws', () => {
  it('no jitter: exactly the latency, without using the RNG', () => {
    assert.equal(
      drawDelay(link({ jitterSeconds: 0 }), () => {
        throw new Error('RNG used');
      }),
      0.01,
    );
  });
  for (const d of JITTER_DISTRIBUTIONS) {
    it(`${d}: draws stay within the bounds and centre on the latency`, () => {
      const imp = link({ distribution: d });
      const xs = sample(imp);
      const { min, max } = delayBounds(imp);
      assert.ok((xs[0] as number) >= min - 1e-12 && (xs.at(-1) as number) <= max + 1e-12);
      // Every netem table is centred: the mean stays within a tenth of a jitter of the latency.
      assert.ok(Math.abs(mean(xs) - 0.01) < 0.0002, `${d} mean ${mean(xs)}`);
    });
  }
  it('normal has the configured spread; uniform the spread of ±jitter (jitter/√3)', () => {
    assert.ok(Math.abs(sd(sample(link({}))) - 0.002) < 0.0001);
    assert.ok(Math.abs(sd(sample(link({ distribution: 'uniform' }))) - 0.002 / Math.sqrt(3)) < 0.0001);
  });
  it('pareto and paretonormal have the heavy right tail (p99.9 further above than p0.1 below)', () => {
    for (const d of ['pareto', 'paretonormal'] as const) {
      const xs = sample(link({ distribution: d }));
      const hi = (xs[Math.floor(xs.length * 0.999)] as number) - 0.01;
      const lo = 0.01 - (xs[Math.floor(xs.length * 0.001)] as number);
      assert.ok(hi > 2 * lo, `${d}: +${hi} vs -${lo}`);
    }
  });
  it('never goes below zero when the jitter equals the latency', () => {
    const xs = sample(link({ latencySeconds: 0.001, jitterSeconds: 0.001 }));
    assert.ok((xs[0] as number) >= 0);
    assert.equal(delayBounds(link({ latencySeconds: 0.001, jitterSeconds: 0.001 })).min, 0);
  });
});
