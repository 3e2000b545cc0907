// The statistics, all distribution-free: latency is skewed, multi-modal and heavy-tailed, so nothing here
// assumes a normal distribution. Intervals on a quantile come from order statistics (the number of values below
// the true quantile is binomial whatever the distribution), as TriScale does; two result sets are compared with
// the Mann–Whitney U test. Pure; checked against known distributions by simulation in stats.test.ts.

/** The q-quantile of sorted values, linear between order statistics (Hyndman–Fan type 7, R's and numpy's default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const a = sorted[lo] as number;
  const b = sorted[Math.min(n - 1, lo + 1)] as number;
  return a + (h - lo) * (b - a);
}

export function sortNumbers(xs: Iterable<number>): Float64Array {
  return Float64Array.from(xs).sort();
}

export function median(xs: Iterable<number>): number {
  return quantileSorted(sortNumbers(xs), 0.5);
}

function logChoose(n: number, k: number): number {
  return logFactorial(n) - logFactorial(k) - logFactorial(n - k);
}

const LOG_FACTORIALS: number[] = [0];
function logFactorial(n: number): number {
  for (let i = LOG_FACTORIALS.length; i <= n; i++)
    LOG_FACTORIALS[i] = (LOG_FACTORIALS[i - 1] as number) + Math.log(i);
  return LOG_FACTORIALS[n] as number;
}

/** P(B = k) for B ~ Binomial(n, p). */
export function binomialPmf(k: number, n: number, p: number): number {
  if (k < 0 || k > n) return 0;
  if (p === 0) return k === 0 ? 1 : 0;
  if (p === 1) return k === n ? 1 : 0;
  return Math.exp(logChoose(n, k) + k * Math.log(p) + (n - k) * Math.log(1 - p));
}

/** Cumulative P(B ≤ k) for every k from 0 to n. */
function binomialCdfs(n: number, p: number): number[] {
  const out: number[] = [];
  let acc = 0;
  for (let k = 0; k <= n; k++) {
    acc += binomialPmf(k, n, p);
    out.push(Math.min(1, acc));
  }
  return out;
}

export interface OrderInterval {
  /** 1-based ranks of the order statistics that bound the interval. */
  lowerRank: number;
  upperRank: number;
  /** P(X(lower) ≤ true quantile ≤ X(upper)), exact for any continuous distribution. */
  coverage: number;
}

/**
 * The narrowest pair of order statistics whose interval holds the q-quantile with at least `confidence`, for n
 * values; ties in width go to the pair most balanced around n·q. Null when even [min, max] is not enough.
 */
export function orderStatisticInterval(n: number, q: number, confidence: number): OrderInterval | null {
  if (n < 2) return null;
  const cdf = binomialCdfs(n, q);
  const below = (k: number) => (k < 0 ? 0 : (cdf[Math.min(k, n)] as number));
  // coverage(l, u) = P(l ≤ B ≤ u − 1), B ~ Bin(n, q): the count of values below the quantile.
  const coverage = (l: number, u: number) => below(u - 1) - below(l - 1);
  let best: OrderInterval | null = null;
  let bestBalance = Number.POSITIVE_INFINITY;
  for (let l = 1; l < n; l++) {
    let u = l + 1;
    while (u <= n && coverage(l, u) < confidence) u++;
    if (u > n) break;
    const width = u - l;
    const balance = Math.abs((l + u) / 2 - (n * q + 0.5));
    const bestWidth = best ? best.upperRank - best.lowerRank : Number.POSITIVE_INFINITY;
    if (width < bestWidth || (width === bestWidth && balance < bestBalance)) {
      best = { lowerRank: l, upperRank: u, coverage: coverage(l, u) };
      bestBalance = balance;
    }
  }
  return best;
}

/** Values needed for a two-sided interval on the q-quantile at `confidence` (median at 95%: 6). */
export function valuesNeededTwoSided(q: number, confidence: number): number {
  for (let n = 2; n < 100_000; n++) if (1 - q ** n - (1 - q) ** n >= confidence) return n;
  return Number.POSITIVE_INFINITY;
}

/** Values needed for a one-sided bound on the q-quantile at `confidence` (p50: 5, p90: 29, p99: 299 at 95%). */
export function valuesNeededOneSided(q: number, confidence: number): number {
  return Math.ceil(Math.log(1 - confidence) / Math.log(q));
}

export interface QuantileEstimate {
  estimate: number;
  lower: number;
  upper: number;
  /** The interval's exact coverage: at least the confidence asked for when `enough`, less otherwise. */
  coverage: number;
  /** False when too few values were given for the confidence asked: the interval is [min, max]. */
  enough: boolean;
  n: number;
}

/** The q-quantile of the values with its distribution-free interval at `confidence`. */
export function quantileInterval(values: Iterable<number>, q: number, confidence: number): QuantileEstimate {
  const sorted = sortNumbers(values);
  const n = sorted.length;
  const estimate = quantileSorted(sorted, q);
  if (n === 0) return { estimate, lower: Number.NaN, upper: Number.NaN, coverage: 0, enough: false, n };
  const interval = orderStatisticInterval(n, q, confidence);
  if (!interval) {
    const coverage = n < 2 ? 0 : 1 - q ** n - (1 - q) ** n;
    return {
      estimate,
      lower: sorted[0] as number,
      upper: sorted[n - 1] as number,
      coverage,
      enough: false,
      n,
    };
  }
  return {
    estimate,
    lower: sorted[interval.lowerRank - 1] as number,
    upper: sorted[interval.upperRank - 1] as number,
    coverage: interval.coverage,
    enough: true,
    n,
  };
}

export interface RankTest {
  /** U of the first sample (the count of pairs where it is the larger, ties counting half). */
  u: number;
  /** Two-sided p-value. */
  p: number;
  method: 'exact' | 'normal approximation';
  /** Hodges–Lehmann estimate of the shift, b − a: the median of every pairwise difference. */
  shift: number;
}

/**
 * The Mann–Whitney U test of two independent samples, two-sided: exact (the U distribution counted) when there
 * are no ties and the samples are small, otherwise the normal approximation with tie and continuity corrections.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): RankTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return { u: Number.NaN, p: Number.NaN, method: 'exact', shift: Number.NaN };
  let u = 0;
  const diffs: number[] = [];
  for (const x of a)
    for (const y of b) {
      u += x > y ? 1 : x === y ? 0.5 : 0;
      diffs.push(y - x);
    }
  const shift = median(diffs);
  const all = [...a, ...b].sort((x, y) => x - y);
  const tieGroups: number[] = [];
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1] === all[i]) j++;
    if (j > i) tieGroups.push(j - i + 1);
    i = j + 1;
  }
  if (tieGroups.length === 0 && n1 * n2 <= 2500) {
    const counts = uDistribution(n1, n2);
    const total = counts.reduce((s, c) => s + c, 0);
    const lowTail = Math.min(u, n1 * n2 - u);
    let tail = 0;
    for (let k = 0; k <= Math.floor(lowTail); k++) tail += counts[k] as number;
    return { u, p: Math.min(1, (2 * tail) / total), method: 'exact', shift };
  }
  const n = n1 + n2;
  const mean = (n1 * n2) / 2;
  const tieTerm = tieGroups.reduce((s, t) => s + t ** 3 - t, 0) / (n * (n - 1));
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm);
  if (variance <= 0) return { u, p: 1, method: 'normal approximation', shift };
  const z = (Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return { u, p: z <= 0 ? 1 : Math.min(1, 2 * (1 - normalCdf(z))), method: 'normal approximation', shift };
}

/** How many arrangements give each U from 0 to n1·n2 (the exact null distribution, no ties). */
function uDistribution(n1: number, n2: number): number[] {
  // f(i, j)[u]: arrangements of i and j values with U = u; f(i, j) = f(i−1, j) shifted by j + f(i, j−1).
  let prev: number[][] = Array.from({ length: n2 + 1 }, () => [1]);
  for (let i = 1; i <= n1; i++) {
    const cur: number[][] = [[1]];
    for (let j = 1; j <= n2; j++) {
      const a = prev[j] as number[];
      const b = cur[j - 1] as number[];
      const out = new Array<number>(i * j + 1).fill(0);
      a.forEach((c, k) => {
        out[k + j] = (out[k + j] as number) + c;
      });
      b.forEach((c, k) => {
        out[k] = (out[k] as number) + c;
      });
      cur.push(out);
    }
    prev = cur;
  }
  return prev[n2] as number[];
}

/** Holm's step-down adjustment of p-values (controls the family-wise error rate), in the input's order. */
export function holm(ps: readonly number[]): number[] {
  const order = ps.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const out = new Array<number>(ps.length);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (ps.length - rank) * p));
    out[i] = running;
  });
  return out;
}

/** The standard normal CDF (Abramowitz–Stegun 7.1.26 on erf; error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}
