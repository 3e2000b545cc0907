// The spec parser on hostile input (test/support/fuzz.ts): whatever the text, it returns a valid spec or throws a
// SpecError whose every problem names a place inside the text, and a spec it accepts stays within every range.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { fc, fuzz, hostileValue, hostileYaml, mutated } from '../../test/support/fuzz.ts';
import { DURATION_RANGES, MAX_RUNS, TOP_RANGES } from './spec.ts';
import { parseSpecText, SpecError, validateSpec } from './validate.ts';

const smoke = await readFile(new URL('../../experiments/smoke.yaml', import.meta.url), 'utf8');

function check(text: string): void {
  const lines = text.split('\n').length;
  try {
    const spec = parseSpecText(text, 'fuzz.yaml');
    assert.ok(
      spec.repetitions >= TOP_RANGES.repetitions.min && spec.repetitions <= TOP_RANGES.repetitions.max,
    );
    assert.ok(
      spec.durationSeconds >= DURATION_RANGES.duration.min &&
        spec.durationSeconds <= DURATION_RANGES.duration.max,
    );
    const conditions = spec.conditions?.length ?? spec.factors.reduce((n, f) => n * f.levels.length, 1);
    assert.ok(conditions * spec.repetitions <= MAX_RUNS);
  } catch (err) {
    assert.ok(err instanceof SpecError, `not a SpecError: ${(err as Error).stack}`);
    assert.ok(err.problems.length > 0);
    for (const p of err.problems) {
      assert.ok(p.message.length > 0 && p.message.length < 2000);
      if (p.line !== undefined) assert.ok(p.line >= 1 && p.line <= lines, `line ${p.line} of ${lines}`);
    }
  }
}

describe('experiment spec parser under fuzzing', () => {
  it('mutations of a valid spec: a spec or located problems, never a crash', async () => {
    const { runs } = await fuzz('mutated smoke.yaml', mutated(smoke), check, {
      budgetMs: 3000,
      minRuns: 100,
    });
    assert.ok(runs >= 100);
  });
  it('hostile YAML (deep, aliased, huge keys, control characters): refused or read, never a crash', async () => {
    await fuzz('hostile YAML', hostileYaml(), check, { budgetMs: 3000, minRuns: 100 });
  });
  it('hostile values in every field of a spec: the validator answers, never throws', async () => {
    const fields = fc.record(
      {
        repetitions: hostileValue(),
        duration: hostileValue(),
        factors: fc.dictionary(
          fc.constantFrom('rate', 'workload', 'links.edge-cloud.latency', 'imageSize', 'x'),
          hostileValue(),
        ),
        fixed: hostileValue(),
        calibration: hostileValue(),
        order: hostileValue(),
        confidence: hostileValue(),
      },
      { requiredKeys: [] },
    );
    await fuzz(
      'hostile fields',
      fields,
      (f) => {
        const doc = { apiVersion: 'mec-testbed.dev/v1alpha1', kind: 'Experiment', name: 'f', ...f };
        validateSpec(doc);
        let text: string;
        try {
          text = stringify(doc);
        } catch {
          return;
        }
        check(text);
      },
      { budgetMs: 3000, minRuns: 100 },
    );
  });
});
