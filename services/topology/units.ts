// Parsing and printing of the quantities a link profile is written in. Profiles keep units in the text
// ("6ms", "800Mbit", "0.1%") because that is how people read link budgets; the model keeps SI numbers.

import { CORES_RANGE } from './model.ts';

export type ParseResult = { ok: true; value: number } | { ok: false; message: string };

/** The duration syntax; exported so the JSON Schema is generated from it. */
export const DURATION = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s)$/;
const DURATION_FACTOR: Record<string, number> = { us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1 };

/** A duration such as `6ms`, `0.5ms`, `250us` or `1s`, in seconds. Zero is allowed (`0ms`). */
export function parseDuration(input: unknown): ParseResult {
  if (typeof input === 'string') {
    const m = DURATION.exec(input.trim());
    if (m?.[1] && m[2]) return { ok: true, value: Number(m[1]) * (DURATION_FACTOR[m[2]] ?? Number.NaN) };
  }
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a duration; write a number with a unit: 6ms, 0.5ms, 250us, 1s`,
  };
}

/** The rate syntax (case-insensitive); exported so the JSON Schema is generated from it. */
export const RATE = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)(?:\/s|ps)?$/i;
const RATE_FACTOR: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

/** A bit rate such as `800Mbit`, `10Gbit` or `64kbit` (tc's spelling), in bits per second. */
export function parseRate(input: unknown): ParseResult {
  if (typeof input === 'string') {
    const m = RATE.exec(input.trim());
    if (m?.[1] && m[2]) {
      const value = Number(m[1]) * (RATE_FACTOR[m[2].toLowerCase()] ?? Number.NaN);
      if (value > 0) return { ok: true, value };
    }
  }
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a rate; write a positive number with a unit: 64kbit, 80Mbit, 10Gbit`,
  };
}

/** A loss written as a percentage; exported so the JSON Schema is generated from it. */
export const LOSS_PERCENT = /^(\d+(?:\.\d+)?)\s*%$/;

/** A loss probability: `0.1%` or a fraction such as `0.001`, from 0 up to but excluding 1. */
export function parseLoss(input: unknown): ParseResult {
  let value = Number.NaN;
  if (typeof input === 'number') value = input;
  else if (typeof input === 'string') {
    const m = LOSS_PERCENT.exec(input.trim());
    if (m?.[1]) value = Number(m[1]) / 100;
  }
  if (Number.isFinite(value) && value >= 0 && value < 1) return { ok: true, value };
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a loss probability; write a percentage (0.1%) or a fraction from 0 to below 1 (0.001)`,
  };
}

/** CPU cores of a site: a number from a tenth of a core to 64, in steps of a millicore (Kubernetes' unit). */
export function parseCores(input: unknown): ParseResult {
  const { min, max, step } = CORES_RANGE;
  if (typeof input === 'number' && Number.isFinite(input) && input >= min && input <= max) {
    if (Math.abs(Math.round(input / step) * step - input) < step / 1e3) return { ok: true, value: input };
  }
  return {
    ok: false,
    message: `${JSON.stringify(input)} is not a number of cores; write a number from ${min} to ${max} with at most 3 decimals (0.5, 1, 4)`,
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
  if (bitsPerSecond >= 1e9) return `${round(bitsPerSecond / 1e9)}Gbit`;
  if (bitsPerSecond >= 1e6) return `${round(bitsPerSecond / 1e6)}Mbit`;
  if (bitsPerSecond >= 1e3) return `${round(bitsPerSecond / 1e3)}kbit`;
  return `${round(bitsPerSecond)}bit`;
}

export function formatLoss(fraction: number): string {
  return `${round(fraction * 100)}%`;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
