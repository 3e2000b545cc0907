// Delay draws, as netem makes them. netem keeps each distribution as a table of 4096 quantiles of a
// zero-centred variable in units of the configured jitter (iproute2's normal.c, pareto.c, paretonormal.c,
// scaled by 8192 and clipped to a signed 16-bit value, so to [-4, +4) jitters); `uniform` is its built-in
// default, spread evenly over latency ± jitter. We use the same shapes as closed-form quantile functions of
// one uniform draw, so a profile means the same delays on both backends. Pure: the RNG is injected.
import type { Impairment, JitterDistribution } from '../topology/index.ts';
import type { Rng } from '../topology/random.ts';

// A source of uniform numbers in [0, 1): tests and `SEED` inject a seeded one; the default is Math.random.
export { type Rng, seededRng } from '../topology/random.ts';

/** netem's tables hold shorts scaled by NETEM_DIST_SCALE (8192): values are clipped to this many jitters. */
export const TABLE_MAX = 32767 / 8192;
const TABLE_MIN = -32768 / 8192;

/** The Pareto shape iproute2's tables use (a = 3), shifted to mean 0 and scaled by 4/3 as pareto.c does. */
function paretoQuantile(p: number): number {
  return ((1 - p) ** (-1 / 3) - 1.5) * (4 / 3);
}

/**
 * The standard normal quantile (Acklam's rational approximation, relative error below 1.2e-9), because
 * netem's normal table is a quantile table too; using the quantile keeps paretonormal's pairing exact.
 */
export function normalQuantile(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
    );
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return (
      -(((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
    );
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

/**
 * The jitter offset, in units of the configured jitter, at quantile `p` of `distribution`. paretonormal is
 * iproute2's blend: a quarter normal and three quarters Pareto taken at the same quantile.
 */
export function jitterQuantile(distribution: JitterDistribution, p: number): number {
  let x: number;
  switch (distribution) {
    case 'uniform':
      return 2 * p - 1; // netem's built-in: latency ± jitter, no table, no clipping needed.
    case 'normal':
      x = normalQuantile(p);
      break;
    case 'pareto':
      x = paretoQuantile(p);
      break;
    case 'paretonormal':
      x = (normalQuantile(p) + 3 * paretoQuantile(p)) / 4;
      break;
  }
  return Math.min(TABLE_MAX, Math.max(TABLE_MIN, x));
}

/**
 * One packet's (here: one chunk's) one-way delay on a link, in seconds: latency plus a jitter draw, never
 * below zero (netem sends a packet whose drawn delay is negative at once, which is the same clamp).
 */
export function drawDelay(impairment: Impairment, rng: Rng): number {
  if (impairment.jitterSeconds === 0) return impairment.latencySeconds;
  const offset = jitterQuantile(impairment.distribution, rng());
  return Math.max(0, impairment.latencySeconds + impairment.jitterSeconds * offset);
}

/** The bounds a draw can take (for tests and for the bench's expectations). */
export function delayBounds(impairment: Impairment): { min: number; max: number } {
  const lo = jitterQuantile(impairment.distribution, 0);
  const hi = jitterQuantile(impairment.distribution, 1 - Number.EPSILON);
  return {
    min: Math.max(0, impairment.latencySeconds + impairment.jitterSeconds * lo),
    max: impairment.latencySeconds + impairment.jitterSeconds * hi,
  };
}
