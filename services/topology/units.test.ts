// The range of every number a profile holds, at its edges: what is accepted is exactly the value written
// (no float noise), what is refused says why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCores, parseDuration, parseLoss, parseRate, RANGES } from './units.ts';

const value = (r: ReturnType<typeof parseDuration>) => (r.ok ? r.value : r.message);

describe('durations: 0 to 10s, whole microseconds', () => {
  const cases: Array<[unknown, number | string]> = [
    ['0ms', 0],
    ['0us', 0],
    ['1us', 1e-6],
    ['0.001ms', 1e-6],
    ['1.4ms', 0.0014],
    [' 6 ms ', 0.006],
    ['250µs', 0.00025],
    ['10s', 10],
    ['10000000us', 10],
    ['10.000001s', '"10.000001s" is over 10s, the longest delay a link may add'],
    ['999999999999999s', '"999999999999999s" is over 10s, the longest delay a link may add'],
    ['1.5us', `"1.5us" is finer than a microsecond, the emulators' resolution; write 2us`],
    ['0.0001ms', `"0.0001ms" is finer than a microsecond, the emulators' resolution; write 0ms`],
    [
      '1.000000000000001s',
      `"1.000000000000001s" is finer than a microsecond, the emulators' resolution; write 1s`,
    ],
    [
      '1.0000000000000000001s',
      '"1.0000000000000000001s" is not a duration; write a number with a unit: 6ms, 0.5ms, 250us, 1s',
    ],
    ['-1ms', '"-1ms" is not a duration; write a number with a unit: 6ms, 0.5ms, 250us, 1s'],
    ['1e3ms', '"1e3ms" is not a duration; write a number with a unit: 6ms, 0.5ms, 250us, 1s'],
    [6, '6 is not a duration; write a number with a unit: 6ms, 0.5ms, 250us, 1s'],
    [
      Number.POSITIVE_INFINITY,
      'Infinity is not a duration; write a number with a unit: 6ms, 0.5ms, 250us, 1s',
    ],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input) ?? String(input)} → ${expected}`, () =>
      assert.equal(value(parseDuration(input)), expected));
  }
  it('stays within what a 64-bit nanosecond clock holds, many times over', () => {
    assert.ok(RANGES.durationSeconds.max * 1e9 < Number.MAX_SAFE_INTEGER);
  });
});

describe('rates: 1kbit to 1Tbit, whole bits per second', () => {
  const cases: Array<[unknown, number | string]> = [
    ['1kbit', 1e3],
    ['1000bit', 1e3],
    ['1.5kbit', 1500],
    ['80Mbit', 80e6],
    ['80MBIT', 80e6],
    ['80mbit/s', 80e6],
    ['10Gbitps', 10e9],
    ['1Tbit', 1e12],
    ['1000Gbit', 1e12],
    ['999bit', '"999bit" is outside what a link carries: from 1kbit to 1Tbit'],
    ['0.000001bit', '"0.000001bit" is outside what a link carries: from 1kbit to 1Tbit'],
    ['1.000000001Tbit', '"1.000000001Tbit" is outside what a link carries: from 1kbit to 1Tbit'],
    ['1.0005kbit', '"1.0005kbit" is not a whole number of bits per second'],
    ['0Mbit', '"0Mbit" is outside what a link carries: from 1kbit to 1Tbit'],
    ['fast', '"fast" is not a rate; write a positive number with a unit: 64kbit, 80Mbit, 10Gbit'],
    ['8MB', '"8MB" is not a rate; write a positive number with a unit: 64kbit, 80Mbit, 10Gbit'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => assert.equal(value(parseRate(input)), expected));
  }
});

describe('loss: 0 to below 100%, in millionths', () => {
  const NOT = 'is not a loss probability; write a percentage (0.1%) or a fraction from 0 to below 1 (0.001)';
  const cases: Array<[unknown, number | string]> = [
    ['0%', 0],
    [0, 0],
    ['0.1%', 0.001],
    ['0.0001%', 1e-6],
    [0.001, 0.001],
    [1 - 1e-6, 0.999999],
    ['99.9999%', 0.999999],
    ['100%', `"100%" ${NOT}`],
    [1, `1 ${NOT}`],
    [-0.1, `-0.1 ${NOT}`],
    [Number.NaN, `NaN ${NOT}`],
    [Number.POSITIVE_INFINITY, `Infinity ${NOT}`],
    ['0.00001%', '"0.00001%" is finer than one in a million (0.0001%)'],
    [1e-7, '1e-7 is finer than one in a million (0.0001%)'],
  ];
  for (const [input, expected] of cases) {
    it(`${String(input)} → ${expected}`, () => assert.equal(value(parseLoss(input)), expected));
  }
});

describe('cores: 0.1 to 64, in millicores', () => {
  const NOT = 'is not a number of cores; write a number from 0.1 to 64 with at most 3 decimals (0.5, 1, 4)';
  const cases: Array<[unknown, number | string]> = [
    [0.1, 0.1],
    [0.3, 0.3],
    [64, 64],
    [2.125, 2.125],
    [0.05, `0.05 ${NOT}`],
    [64.001, `64.001 ${NOT}`],
    [1.0001, `1.0001 ${NOT}`],
    ['2', `"2" ${NOT}`],
  ];
  for (const [input, expected] of cases) {
    it(`${String(input)} → ${expected}`, () => assert.equal(value(parseCores(input)), expected));
  }
});
