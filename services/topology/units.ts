// The quantities a link profile is written in, their ranges, and how they are parsed and printed. Profiles
// keep units in the text ("6ms", "800Mbit", "0.1%") because that is how people read link budgets; the model
// keeps SI numbers. Every range is one a real link can have and one the emulators can apply: both
// schedulers count in 64-bit nanoseconds, netem in microseconds.

import { quote } from './located.ts';
import { CORES_RANGE } from './model.ts';

export type ParseResult = { ok: true; value: number } | { ok: false; message: string };

/**
 * What each number of a profile may be. Latency and jitter: 0 to 10 s (the longest one-way delay on Earth,
 * a geostationary hop, is 0.27 s), whole microseconds (netem's resolution). Rate: 1 kbit/s (slower than any
 * IP radio link) to 1 Tbit/s, whole bits per second. Loss: 0 to below 100%, in steps of one in a million.
 */
export const RANGES = Object.freeze({
  durationSeconds: Object.freeze({ min: 0, max: 10, step: 1e-6 }),
  rateBitsPerSecond: Object.freeze({ min: 1e3, max: 1e12, step: 1 }),
  loss: Object.freeze({ min: 0, below: 1, step: 1e-6 }),
  cores: CORES_RANGE,
});

// The syntaxes: the number's whole and decimal digits apart, so it is scaled exactly (no float rounding decides
// whether "1.0000001ms" is finer than a microsecond). Blanks around the value and between number and unit are
// allowed. The unit letters are spelled in both cases where any case is accepted, so the JSON Schema's pattern
// (which has no flags) is this very regex.
/** A duration: `6ms`, `0.5ms`, `250us`, `1s`. */
export const DURATION = /^\s*(\d{1,15})(?:\.(\d{1,15}))?\s*(us|µs|ms|s)\s*$/;
/** A bit rate in tc's spelling, any case: `64kbit`, `800Mbit`, `10Gbit`, `1Tbit`, optionally `/s` or `ps`. */
export const RATE = /^\s*(\d{1,15})(?:\.(\d{1,15}))?\s*([kKmMgGtT]?)[bB][iI][tT](?:\/[sS]|[pP][sS])?\s*$/;
/** A loss written as a percentage: `0.1%`. */
export const LOSS_PERCENT = /^\s*(\d{1,3})(?:\.(\d{1,15}))?\s*%\s*$/;

/** Decimal places from the unit to microseconds, and from the prefix to bits per second. */
const MICROSECOND_SHIFT: Record<string, number> = { us: 0, µs: 0, ms: 3, s: 6 };
const BIT_SHIFT: Record<string, number> = { '': 0, k: 3, m: 6, g: 9, t: 12 };

export const DURATION_HINT = 'write a number with a unit: 6ms, 0.5ms, 250us, 1s';
export const RATE_HINT = 'write a positive number with a unit: 64kbit, 80Mbit, 10Gbit';
export const LOSS_HINT = 'write a percentage (0.1%) or a fraction from 0 to below 1 (0.001)';

/** A duration such as `6ms`, `0.5ms`, `250us` or `1s`, in seconds: 0 to 10 s in whole microseconds. */
export function parseDuration(input: unknown): ParseResult {
  const m = typeof input === 'string' ? DURATION.exec(input) : null;
  if (!m?.[1] || !m[3]) return { ok: false, message: `${quote(input)} is not a duration; ${DURATION_HINT}` };
  const { max } = RANGES.durationSeconds;
  const micros = scaled(m[1], m[2], MICROSECOND_SHIFT[m[3]] ?? 0);
  if (micros.whole > max * 1e6)
    return {
      ok: false,
      message: `${quote(input)} is over ${formatDuration(max)}, the longest delay a link may add`,
    };
  if (!micros.exact)
    return {
      ok: false,
      message: `${quote(input)} is finer than a microsecond, the emulators' resolution; write ${formatDuration(micros.rounded / 1e6)}`,
    };
  // A whole number over a power of ten is correctly rounded: 6ms is exactly the double 0.006.
  return { ok: true, value: micros.whole / 1e6 };
}

/** A bit rate such as `800Mbit`, `10Gbit` or `64kbit` (tc's spelling), in bits per second. */
export function parseRate(input: unknown): ParseResult {
  const m = typeof input === 'string' ? RATE.exec(input) : null;
  if (!m?.[1] || m[3] === undefined)
    return { ok: false, message: `${quote(input)} is not a rate; ${RATE_HINT}` };
  const { min, max } = RANGES.rateBitsPerSecond;
  const bits = scaled(m[1], m[2], BIT_SHIFT[m[3].toLowerCase()] ?? 0);
  if (bits.whole < min || bits.whole > max)
    return {
      ok: false,
      message: `${quote(input)} is outside what a link carries: from ${formatRate(min)} to ${formatRate(max)}`,
    };
  if (!bits.exact) return { ok: false, message: `${quote(input)} is not a whole number of bits per second` };
  return { ok: true, value: bits.whole };
}

/** A loss probability: `0.1%` or a fraction such as `0.001`, from 0 up to but excluding 1, in steps of 1e-6. */
export function parseLoss(input: unknown): ParseResult {
  const refused: ParseResult = {
    ok: false,
    message: `${quote(input)} is not a loss probability; ${LOSS_HINT}`,
  };
  const finer: ParseResult = {
    ok: false,
    message: `${quote(input)} is finer than one in a million (0.0001%)`,
  };
  let millionths: number;
  if (typeof input === 'string') {
    const m = LOSS_PERCENT.exec(input);
    if (!m?.[1]) return refused;
    const percent = scaled(m[1], m[2], 4);
    if (!percent.exact) return finer;
    millionths = percent.whole;
  } else if (typeof input === 'number' && input >= 0) {
    millionths = Math.round(input * 1e6);
    if (Math.abs(input * 1e6 - millionths) > 1e-6 * Math.max(1, millionths)) return finer;
  } else return refused;
  if (!(millionths < RANGES.loss.below * 1e6)) return refused;
  // Back to the nearest double of the decimal, so 0.1% is 0.001 and not 0.0010000000000000002.
  return { ok: true, value: millionths / 1e6 };
}

/**
 * A decimal written as whole and decimal digits, times 10^shift: its whole part, whether no non-zero digit is
 * left below it, and the nearest whole. Exact on the text; a value too large to be exact is out of every
 * range anyway.
 */
function scaled(
  whole: string,
  decimals = '',
  shift: number,
): { whole: number; exact: boolean; rounded: number } {
  const value = Number(whole + decimals.slice(0, shift).padEnd(shift, '0'));
  const rest = decimals.slice(shift);
  return { whole: value, exact: /^0*$/.test(rest), rounded: value + (Number(rest[0] ?? 0) >= 5 ? 1 : 0) };
}

/** CPU cores of a site: a tenth of a core to 64, in steps of a millicore (Kubernetes' unit). */
export function parseCores(input: unknown): ParseResult {
  const { min, max, step } = CORES_RANGE;
  const milli = typeof input === 'number' ? Math.round(input / step) : Number.NaN;
  if (typeof input === 'number' && input >= min && input <= max && Math.abs(input / step - milli) < 1e-6)
    return { ok: true, value: milli / 1000 };
  return {
    ok: false,
    message: `${quote(input)} is not a number of cores; write a number from ${min} to ${max} with at most 3 decimals (0.5, 1, 4)`,
  };
}

/** Prints seconds the way profiles are written, for messages and tables. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0ms';
  if (seconds < 1e-3) return `${round(seconds * 1e6)}us`;
  if (seconds < 1) return `${round(seconds * 1e3)}ms`;
  return `${round(seconds)}s`;
}

export function formatRate(bitsPerSecond: number | null): string {
  if (bitsPerSecond === null) return 'unlimited';
  if (bitsPerSecond >= 1e12) return `${round(bitsPerSecond / 1e12)}Tbit`;
  if (bitsPerSecond >= 1e9) return `${round(bitsPerSecond / 1e9)}Gbit`;
  if (bitsPerSecond >= 1e6) return `${round(bitsPerSecond / 1e6)}Mbit`;
  if (bitsPerSecond >= 1e3) return `${round(bitsPerSecond / 1e3)}kbit`;
  return `${round(bitsPerSecond)}bit`;
}

export function formatLoss(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(6))}%`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
