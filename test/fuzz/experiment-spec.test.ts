// Fuzz: the experiment spec parser (parseSpecText) with the built-in specs perturbed value by value and byte by
// byte, and hostile YAML. Every input gives a spec whose numbers are in their documented ranges, or a SpecError
// with a bounded message.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { it } from 'node:test';
import { parse, stringify } from 'yaml';
import { BUILTIN_DIR } from '../../services/experiment/load.ts';
import { DURATION_RANGES, type ExperimentSpec, TOP_RANGES } from '../../services/experiment/spec.ts';
import { parseSpecText, SpecError } from '../../services/experiment/validate.ts';
import { fc, fuzzParser, hostileYaml, mutated, perturbed } from '../support/fuzz.ts';

const BUILTINS = readdirSync(BUILTIN_DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => readFileSync(`${BUILTIN_DIR}/${f}`, 'utf8'));

const specText = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .constantFrom(...BUILTINS)
      .chain((text) => perturbed(parse(text)).map((d) => stringify(d, { lineWidth: 0 }))),
  },
  { weight: 2, arbitrary: fc.constantFrom(...BUILTINS).chain((text) => mutated(text)) },
  { weight: 1, arbitrary: hostileYaml() },
);

/** Every number finite, and the top-level ones in their documented ranges. */
function assertSaneSpec(spec: ExperimentSpec): void {
  const walk = (value: unknown, at: string) => {
    if (typeof value === 'number') assert.ok(Number.isFinite(value), `${at} is ${value}`);
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) walk(v, at ? `${at}.${k}` : k);
  };
  walk(spec, '');
  const within = (value: number, range: { min: number; max: number }, name: string) =>
    assert.ok(
      value >= range.min && value <= range.max,
      `${name} ${value} outside ${range.min}..${range.max}`,
    );
  within(spec.repetitions, TOP_RANGES.repetitions, 'repetitions');
  within(spec.seed, TOP_RANGES.seed, 'seed');
  within(spec.confidence, TOP_RANGES.confidence, 'confidence');
  within(spec.durationSeconds, DURATION_RANGES.duration, 'duration');
  within(spec.warmupSeconds, DURATION_RANGES.warmup, 'warmup');
  within(spec.pauseSeconds, DURATION_RANGES.pause, 'pause');
}

it('experiment spec text: a spec in its ranges or a bounded SpecError, for every input', async (t) => {
  const summary = await fuzzParser({
    name: 'experiment spec',
    inputs: specText,
    parse: (text: string) => parseSpecText(text, 'fuzz'),
    refusal: SpecError,
    accepted: (spec) => assertSaneSpec(spec),
    maxMessageBytes: 64 * 1024,
    budgetMs: 4000,
    minRuns: 50,
  });
  t.diagnostic(`${summary.runs} cases in ${Math.round(summary.elapsedMs)} ms, seed ${summary.seed}`);
});
