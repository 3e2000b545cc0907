// Where the edge stops winning along a numeric factor. The advantage at each level is cloud − edge (ms; positive:
// the edge is faster), with its interval. The crossover is where the estimate changes sign, found by linear
// interpolation between the two levels around it; its interval runs from where the interval band's one edge
// crosses zero to where the other does, so it is as wide as the uncertainty of the curve there. The band is
// pointwise (each level's own interval), which is what the report says beside it. Pure.

export interface AdvantagePoint {
  x: number;
  estimate: number;
  lower: number;
  upper: number;
}

export type Crossover =
  | {
      found: true;
      /** The level where the estimate reaches zero. */
      x: number;
      /** Where the interval band reaches zero; null when it does so outside the levels measured. */
      lower: number | null;
      upper: number | null;
      /** `edge-stops-winning` when the advantage falls through zero as x grows, `edge-starts-winning` otherwise. */
      direction: 'edge-stops-winning' | 'edge-starts-winning';
    }
  | { found: false; reason: string };

/** x where the line through (x0, y0) and (x1, y1) reaches zero. */
function zeroBetween(x0: number, y0: number, x1: number, y1: number): number {
  return y0 === y1 ? x0 : x0 + ((x1 - x0) * y0) / (y0 - y1);
}

/** The first x at which `ys` reaches zero going from `from`'s sign, between the points; null if it never does. */
function firstZero(xs: number[], ys: number[], fromPositive: boolean): number | null {
  for (let i = 0; i < xs.length; i++) {
    const y = ys[i] as number;
    const crossed = fromPositive ? y <= 0 : y >= 0;
    if (!crossed) continue;
    if (i === 0) return xs[0] as number;
    return zeroBetween(xs[i - 1] as number, ys[i - 1] as number, xs[i] as number, y);
  }
  return null;
}

export function findCrossover(points: readonly AdvantagePoint[]): Crossover {
  const sorted = [...points].filter((p) => Number.isFinite(p.estimate)).sort((a, b) => a.x - b.x);
  if (sorted.length < 2) return { found: false, reason: 'fewer than two levels with results' };
  const xs = sorted.map((p) => p.x);
  const est = sorted.map((p) => p.estimate);
  const first = est[0] as number;
  if (first === 0) return { found: false, reason: 'no advantage either way at the first level' };
  const fromPositive = first > 0;
  const x = firstZero(xs, est, fromPositive);
  const range = `${xs[0]}–${xs.at(-1)}`;
  if (x === null) {
    const band = fromPositive ? sorted.map((p) => p.lower) : sorted.map((p) => p.upper);
    const touches = firstZero(xs, band, fromPositive);
    const who = fromPositive ? 'the edge' : 'the cloud';
    return {
      found: false,
      reason:
        touches === null
          ? `no crossover in range (${range}): ${who} is faster at every level, beyond the intervals`
          : `no crossover in range (${range}): ${who} is faster at every level, though the interval reaches zero from ${round(touches)}`,
    };
  }
  // Advantage falling through zero: the lower bound reaches zero first, the upper bound last; rising: reversed.
  const earlyBand = sorted.map((p) => (fromPositive ? p.lower : p.upper));
  const lateBand = sorted.map((p) => (fromPositive ? p.upper : p.lower));
  const startsCrossed = fromPositive ? (earlyBand[0] as number) <= 0 : (earlyBand[0] as number) >= 0;
  return {
    found: true,
    x,
    lower: startsCrossed ? null : firstZero(xs, earlyBand, fromPositive),
    upper: firstZero(xs, lateBand, fromPositive),
    direction: fromPositive ? 'edge-stops-winning' : 'edge-starts-winning',
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
