// Reading measurements: busybox ping's output, quantiles, qdisc counters, and the binomial bound a loss count
// is judged by. Pure.

export interface PingSeries {
  transmitted: number;
  received: number;
  /** How long ping took from the first echo request to the end, by its own clock. */
  seconds: number;
  /** Round trips in seconds, in sequence order. */
  roundTrips: number[];
}

/** iputils ping's output: `64 bytes from A: icmp_seq=N ttl=T time=F ms` lines and the statistics line. */
export function parsePing(text: string): PingSeries {
  const bySeq = new Map<number, number>();
  for (const m of text.matchAll(/icmp_seq=(\d+) ttl=\d+ time=([\d.]+) ms/g))
    if (!bySeq.has(Number(m[1]))) bySeq.set(Number(m[1]), Number(m[2]) / 1000);
  const stats = /(\d+) packets transmitted, (\d+) received.*?, time (\d+)ms/.exec(text);
  if (!stats) throw new Error(`not iputils ping's output:\n${text.slice(0, 400)}`);
  return {
    transmitted: Number(stats[1]),
    received: Number(stats[2]),
    seconds: Number(stats[3]) / 1000,
    roundTrips: [...bySeq].sort((a, b) => a[0] - b[0]).map(([, t]) => t),
  };
}

/** The p-quantile (0..1) by linear interpolation between order statistics (R's type 7). */
export function quantile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (sorted.length - 1) * p;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

export function standardDeviation(samples: readonly number[]): number {
  if (samples.length < 2) return 0;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1));
}

export interface Summary {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  sd: number;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    p50: quantile(samples, 0.5),
    p90: quantile(samples, 0.9),
    p99: quantile(samples, 0.99),
    sd: standardDeviation(samples),
  };
}

/** Packets and drops of each qdisc, by handle, from `tc -s -j qdisc show`. */
export function qdiscCounters(
  qdiscs: ReadonlyArray<Record<string, unknown>>,
): Map<string, { packets: number; drops: number }> {
  const out = new Map<string, { packets: number; drops: number }>();
  for (const q of qdiscs)
    out.set(String(q.handle), { packets: Number(q.packets ?? 0), drops: Number(q.drops ?? 0) });
  return out;
}

/**
 * Whether `k` losses out of `n` are consistent with probability `p`: inside the binomial's central interval of
 * z standard deviations (3.29: 99.9% two-sided; normal approximation with continuity correction, fine for n·p ≥ 5).
 */
export function lossConsistent(
  k: number,
  n: number,
  p: number,
  z = 3.29,
): { ok: boolean; low: number; high: number } {
  const mean = n * p;
  const sd = Math.sqrt(n * p * (1 - p));
  const low = Math.max(0, Math.floor(mean - z * sd - 0.5));
  const high = Math.ceil(mean + z * sd + 0.5);
  return { ok: k >= low && k <= high, low, high };
}

/**
 * The range the p-quantile of `n` samples of a distribution (given by many samples of it) falls in with
 * probability `coverage`: the quantile of `draws` resamples of size n. What sampling alone makes a measured
 * quantile stray by.
 */
export function quantileBand(
  distribution: readonly number[],
  n: number,
  p: number,
  rnd: () => number,
  coverage = 0.99,
  draws = 400,
): { low: number; high: number } {
  const estimates: number[] = [];
  for (let d = 0; d < draws; d++) {
    const sample = Array.from({ length: n }, () => distribution[rnd() % distribution.length] as number);
    estimates.push(quantile(sample, p));
  }
  return { low: quantile(estimates, (1 - coverage) / 2), high: quantile(estimates, (1 + coverage) / 2) };
}
