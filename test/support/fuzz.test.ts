// The fuzz harness itself: it fails on a counterexample (the same one for the same seed), on an error that is
// not the parser's refusal, on a refusal that echoes too much, and when the budget buys too few cases.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fc, fuzz, fuzzParser, hostileYaml, mutated, numberText, queryString } from './fuzz.ts';

class Refused extends Error {}

describe('fuzz harness', () => {
  it('passes a property that holds, with at least minRuns cases', async () => {
    const summary = await fuzz('holds', fc.integer(), (n) => Number.isInteger(n), {
      budgetMs: 2000,
      minRuns: 50,
      maxRuns: 200,
    });
    assert.equal(summary.runs, 200);
  });

  it('fails on a counterexample, shrunk, and the same one for the same seed', async () => {
    const failing = () =>
      fuzz('fails', fc.integer({ min: 0, max: 1_000_000 }), (n) => n < 1000, { budgetMs: 2000, minRuns: 1 });
    const first = await failing().then(
      () => '',
      (err: Error) => err.message,
    );
    const second = await failing().then(
      () => '',
      (err: Error) => err.message,
    );
    assert.match(first, /Counterexample: \[1000\]/);
    assert.equal(first, second);
  });

  it('fails when the budget buys fewer cases than minRuns', async () => {
    await assert.rejects(
      fuzz('slow', fc.integer(), async () => new Promise((r) => setTimeout(r, 100)), {
        budgetMs: 300,
        minRuns: 50,
      }),
      /only \d+ cases/,
    );
  });

  it('a parser must refuse with its own error and a bounded message', async () => {
    const base = { inputs: fc.string(), refusal: Refused, accepted: () => {}, budgetMs: 2000, minRuns: 1 };
    await assert.rejects(
      fuzzParser({ ...base, name: 'throws', maxMessageBytes: 100, parse: () => JSON.parse('{') }),
      (err: Error) => /threw SyntaxError, not a refusal/.test(String((err.cause as Error)?.message)),
    );
    await assert.rejects(
      fuzzParser({
        ...base,
        name: 'echoes',
        maxMessageBytes: 10,
        parse: (s: string) => {
          throw new Refused(`bad: ${s}${'x'.repeat(20)}`);
        },
      }),
      (err: Error) => /a refusal of \d+ bytes/.test(String((err.cause as Error)?.message)),
    );
    const ok = await fuzzParser({
      ...base,
      name: 'refuses',
      maxMessageBytes: 100,
      parse: () => {
        throw new Refused('no');
      },
      maxRuns: 10,
    } as never);
    assert.ok(ok.runs >= 1);
  });

  it('the generators give what they say', () => {
    const numbers = fc.sample(numberText(), { seed: 1, numRuns: 200 });
    assert.ok(numbers.some((n) => /e\d/.test(n)) && numbers.some((n) => n.length > 100));
    assert.ok(fc.sample(hostileYaml(), { seed: 1, numRuns: 10 }).every((t) => typeof t === 'string'));
    assert.ok(
      fc
        .sample(mutated('name: x\nlinks: {}'), { seed: 1, numRuns: 50 })
        .some((t) => t !== 'name: x\nlinks: {}'),
    );
    assert.ok(fc.sample(queryString(['bytes']), { seed: 1, numRuns: 100 }).some((q) => q.includes('bytes=')));
  });
});
