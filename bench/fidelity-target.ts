// The fidelity benchmark's targets, as pure functions, so the verdict it prints is tested
// (fidelity-target.test.ts). The targets: at 1,000 requests/s the p50 error is under 0.3 ms and the p99 error
// under 1 ms; at every point the proxy is no worse than Toxiproxy measured the same way.
//
// "No worse" is judged against the sampling noise of the two percentiles. Each measured percentile is one
// draw: for n round trips its rank scatters by √(p(1−p)/n), which the benchmark turns into `noise`, the
// half-width of the 95% interval of that percentile for an exact emulator. Two such estimates differ by up to
// √2 × noise from sampling alone, so a smaller difference is reported as "within noise", not as a loss. With
// jitter that interval is tenths of a millisecond to over a millisecond, so most jittered comparisons cannot be
// resolved in a 3-second point; without jitter it is hundredths, and a real loss shows. The noise is that of
// an exact emulator (whose tail is the direct one's): a real one's tail is wider, so its true noise is larger
// and this threshold errs towards calling a difference a loss.

export const TARGET_RATE = 1000;
export const P50_TARGET_MS = 0.3;
export const P99_TARGET_MS = 1;

/** Errors (ms, measured − predicted) at the two percentiles the targets name. */
export interface Percentiles {
  p50: number;
  p99: number;
}

export interface JudgedPoint {
  rate: number;
  /** 95% half-width of each measured percentile were the emulator exact (ms). */
  noise: Percentiles;
  proxy: Percentiles;
  /** null where Toxiproxy was not measured (no binary, or a jitter it cannot take). */
  toxi: Percentiles | null;
}

export type Versus = 'no worse' | 'within noise' | 'worse';

/** The proxy's error against Toxiproxy's at one percentile: larger in size by more than √2 × noise is worse. */
export function versus(ours: number, theirs: number, noise: number): Versus {
  const diff = Math.abs(ours) - Math.abs(theirs);
  if (diff <= 0) return 'no worse';
  return diff <= Math.SQRT2 * noise ? 'within noise' : 'worse';
}

export interface Verdict {
  met: boolean;
  /** Why it was missed, one phrase per failed target (empty when met). */
  misses: string[];
  /** Comparisons with Toxiproxy that were worse, but by less than their noise (not counted as misses). */
  unresolved: string[];
}

const ms = (x: number) => x.toFixed(2);

/** Whether a point meets the targets, and in words why not. */
export function verdict(p: JudgedPoint): Verdict {
  const misses: string[] = [];
  const unresolved: string[] = [];
  if (p.rate >= TARGET_RATE) {
    if (!(Math.abs(p.proxy.p50) < P50_TARGET_MS))
      misses.push(`|p50 err| ${ms(p.proxy.p50)} ≥ ${P50_TARGET_MS}`);
    if (!(Math.abs(p.proxy.p99) < P99_TARGET_MS))
      misses.push(`|p99 err| ${ms(p.proxy.p99)} ≥ ${P99_TARGET_MS}`);
  }
  if (p.toxi)
    for (const q of ['p50', 'p99'] as const) {
      const v = versus(p.proxy[q], p.toxi[q], p.noise[q]);
      const words = `${q} ${ms(Math.abs(p.proxy[q]) - Math.abs(p.toxi[q]))} worse than Toxiproxy (noise ±${ms(Math.SQRT2 * p.noise[q])})`;
      if (v === 'worse') misses.push(words);
      else if (v === 'within noise') unresolved.push(words);
    }
  return { met: misses.length === 0, misses, unresolved };
}
