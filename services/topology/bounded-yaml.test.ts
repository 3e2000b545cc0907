// The profile parser's cost bounds, one test per bound, and a seeded fuzz run: whatever the text, the parser
// returns a topology or a ProfileError with a short message, never anything else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { PROFILE_YAML_LIMITS, parseBoundedYaml } from './bounded-yaml.ts';
import { PRESETS, ProfileError, parseProfileText, RANGES } from './index.ts';
import { seededRng } from './random.ts';

const refused = (text: string) => {
  const r = parseBoundedYaml(text);
  assert.ok(!r.ok, 'refused');
  return r.problems.map((p) => `${p.path}: ${p.message}`);
};

describe('bounded YAML', () => {
  it('reads a profile, and JSON, as plain data', () => {
    assert.deepEqual(parseBoundedYaml('a: [1, {b: c}]'), { ok: true, value: { a: [1, { b: 'c' }] } });
    assert.deepEqual(parseBoundedYaml('{"a": [1, {"b": "c"}]}'), { ok: true, value: { a: [1, { b: 'c' }] } });
  });
  it('refuses a text over the size bound before reading it', () => {
    assert.deepEqual(refused(`a: "${'x'.repeat(PROFILE_YAML_LIMITS.maxBytes)}"`), [
      ': is over 16 KiB (at least 16389 bytes)',
    ]);
    assert.deepEqual(refused(`a: "${'é'.repeat(9000)}"`), [': is over 16 KiB (at least 18005 bytes)']);
  });
  it('refuses a text of too many tokens', () => {
    assert.deepEqual(refused(`[${'1,'.repeat(1500)}]`), [': has over 2000 tokens']);
  });
  it('refuses deep flow nesting before the parser sees it', () => {
    assert.deepEqual(refused(`${'['.repeat(13)}${']'.repeat(13)}`), [': nests deeper than 12 levels']);
  });
  it('refuses deep block nesting, located', () => {
    const text = Array.from({ length: 14 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n');
    assert.deepEqual(refused(`${text} 1`), [
      'k0.k1.k2.k3.k4.k5.k6.k7.k8.k9.k10.k11: nests deeper than 12 levels (or an alias refers to its own anchor)',
    ]);
  });
  it('refuses aliases beyond the bound, and an alias inside its own anchor', () => {
    const laughs = Array.from(
      { length: 9 },
      (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(',')}]`,
    );
    assert.deepEqual(refused(`a0: &a0 [x]\n${laughs.join('\n')}`), [': uses over 64 aliases (*name)']);
    assert.deepEqual(refused('a: &x [*x]'), [
      'a.0.0.0.0.0.0.0.0.0.0.0: nests deeper than 12 levels (or an alias refers to its own anchor)',
    ]);
  });
  it('refuses aliases that expand past the values bound', () => {
    const wide = `w: &w [${Array(60).fill('1').join(',')}]`;
    const text = `${wide}\nx: [${Array(40).fill('*w').join(',')}]`;
    assert.deepEqual(refused(text), [': holds over 1000 values (aliases expanded)']);
  });
  it('locates a key written twice, and refuses a key that is a collection', () => {
    assert.deepEqual(refused('links:\n  a: 1\n  a: 2'), ['links.a: is written twice; keep one']);
    assert.deepEqual(refused('? [a]\n: 1'), [
      ': has a key that is not a plain name (a mapping or list as a key)',
    ]);
  });
  it('quotes at most the start of a faulty line', () => {
    const [problem] = refused(`a: ${'x'.repeat(10_000)}\n b: [`);
    assert.ok(problem && problem.length < 700, problem);
  });
});

describe('the profile parser under fuzzing (seeded)', () => {
  it('answers a topology within every range or a short ProfileError, for every mutation of a preset', (t) => {
    const rng = seededRng(20261202);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
    const texts = Object.values(PRESETS).map((doc) => stringify(doc));
    const alphabet = [
      '[',
      ']',
      '{',
      '}',
      ':',
      ',',
      '-',
      '&a',
      '*a',
      '"',
      "'",
      '\n',
      ' ',
      '  ',
      '#',
      '!',
      '|',
      '>',
      '?',
      '0',
      '9',
      '.',
      'e',
      '%',
      'ms',
      'us',
      's',
      'Gbit',
      '\u0000',
      '\uD800',
      'é',
      'links',
      'directions',
      '->',
      '1e308',
    ];
    const deadline = Date.now() + 3000;
    let runs = 0;
    let accepted = 0;
    while (runs < 3000 && Date.now() < deadline) {
      let text = pick(texts);
      for (let edits = 1 + Math.floor(rng() * 4); edits > 0; edits--) {
        const at = Math.floor(rng() * text.length);
        const cut = Math.floor(rng() * 8);
        const insert = rng() < 0.8 ? pick(alphabet) : pick(alphabet).repeat(Math.floor(rng() * 2000));
        text = text.slice(0, at) + insert + text.slice(at + cut);
      }
      runs++;
      try {
        const topology = parseProfileText(text, 'fuzz.yaml');
        for (const { impairment: i } of topology.links) {
          assert.ok(
            i.latencySeconds >= 0 && i.latencySeconds <= RANGES.durationSeconds.max,
            String(i.latencySeconds),
          );
          assert.ok(i.jitterSeconds >= 0 && i.jitterSeconds <= i.latencySeconds, String(i.jitterSeconds));
          assert.ok(i.loss >= 0 && i.loss < 1, String(i.loss));
          const r = i.rateBitsPerSecond;
          assert.ok(
            r === null || (r >= RANGES.rateBitsPerSecond.min && r <= RANGES.rateBitsPerSecond.max),
            String(r),
          );
        }
        accepted++;
      } catch (err) {
        assert.ok(
          err instanceof ProfileError,
          `not a ProfileError for ${JSON.stringify(text.slice(0, 200))}: ${err}`,
        );
        assert.ok(err.problems.length >= 1 && err.problems.length <= 20);
        assert.ok(err.message.length < 12_000, `a ${err.message.length}-character answer`);
      }
    }
    t.diagnostic(`${runs} runs, ${accepted} accepted`);
    assert.ok(runs >= 200, `only ${runs} runs in the time budget`);
    assert.ok(
      accepted > 0 && accepted < runs,
      `${accepted} of ${runs} accepted: the mutations should sometimes keep a valid profile`,
    );
  });
});
