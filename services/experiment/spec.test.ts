import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';
import { PRESETS } from '../topology/index.ts';
import { conditionsOf, planRuns } from './design.ts';
import { builtinNames, loadExperiment } from './load.ts';
import { withOverrides } from './resolve.ts';
import { experimentSchema } from './schema.ts';
import { parseSpecText, SpecError, validateSpec } from './validate.ts';

const BASE = `apiVersion: mec-testbed.dev/v1alpha1
kind: Experiment
name: t
`;

/** BASE with `extra` appended; a top-level key of `extra` replaces BASE's line for it. */
function withBase(extra: string): string {
  const keys = new Set(
    extra
      .split('\n')
      .map((l) => /^([a-zA-Z$]+):/.exec(l)?.[1])
      .filter(Boolean),
  );
  const base = BASE.split('\n').filter((l) => !keys.has(/^([a-zA-Z$]+):/.exec(l)?.[1]));
  return `${base.join('\n')}${base.at(-1) === '' ? '' : '\n'}${extra}`;
}

/** The problems of a spec (BASE + extra YAML), as `line:col path: message` strings; [] when valid. */
function problemsOf(extra: string): string[] {
  try {
    parseSpecText(withBase(extra), 't.yaml');
    return [];
  } catch (err) {
    if (!(err instanceof SpecError)) throw err;
    return err.problems.map((p) => `${p.line}:${p.column} ${p.message}`);
  }
}

describe('experiment spec validation', () => {
  // [case, YAML added to a valid base, a pattern every problem list must match (null: valid)]
  const table: Array<[string, string, RegExp | null]> = [
    ['the base alone', '', null],
    ['a full factorial', 'factors:\n  rate: [10, 20]\n  connection: [reused, new]\n', null],
    ['a listed design', 'conditions:\n  - { rate: 10 }\n  - { rate: 20, workload: inspect }\n', null],
    ['a profile path factor', 'factors:\n  links.edge-cloud.latency: [5ms, 20ms]\n', null],
    ['a direction path', 'fixed:\n  links.ue-edge.directions.ue->edge.rate: 20Mbit\n', null],
    ['durations', 'duration: 2.5s\nwarmup: 0s\npause: 500ms\n', null],
    ['tolerance as a percentage', 'calibration: { tolerance: 20%, requests: 0, onDrift: exclude }\n', null],
    ['wrong kind', 'kind: LinkProfile\n', /^3:7 must be "Experiment"/],
    ['bad name', 'name: Bad_Name\n', /must be lower-case letters/],
    ['unknown field', 'repeats: 3\n', /^4:10 is not a known field; allowed here: .*repetitions/],
    ['unknown setting', 'factors:\n  speed: [1, 2]\n', /^5:10 is not a setting; settings are profile, rate/],
    [
      'rate out of range',
      'factors:\n  rate: [10, 0, 5000]\n',
      /must be a number from 0.1 to 2000 requests\/s/,
    ],
    ['rate not a number', 'fixed:\n  rate: fast\n', /^5:9 must be a number from 0.1 to 2000/],
    ['level repeated', 'factors:\n  rate: [10, 10]\n', /^5:14 repeats the level 10/],
    ['empty levels', 'factors:\n  rate: []\n', /must be a non-empty list of levels/],
    [
      'unknown workload',
      'fixed:\n  workload: video\n',
      /must be one of echo, inspect, media-hit, media-miss/,
    ],
    ['unknown connection', 'fixed:\n  connection: keepalive\n', /must be one of reused, new/],
    ['image size syntax', 'fixed:\n  imageSize: 640*480\n', /must be WIDTHxHEIGHT/],
    [
      'image too many pixels',
      'fixed:\n  imageSize: 4096x4096\n',
      /16777216 pixels; the services inspect at most 8388608/,
    ],
    ['echo bytes fractional', 'fixed:\n  echoBytes: 1.5\n', /must be a whole number from 0 to 1048576 bytes/],
    [
      'fixed and a factor',
      'fixed:\n  rate: 10\nfactors:\n  rate: [10, 20]\n',
      /is also fixed \(fixed.rate\)/,
    ],
    [
      'factors and conditions',
      'factors:\n  rate: [1]\nconditions:\n  - { rate: 2 }\n',
      /lists the design, so `factors` must be left out/,
    ],
    ['repetitions zero', 'repetitions: 0\n', /must be a whole number from 1 to 1000 runs/],
    ['repetitions fractional', 'repetitions: 2.5\n', /must be a whole number from 1 to 1000/],
    ['duration without unit', 'duration: 10\n', /is not a duration; write a number with a unit/],
    ['duration too long', 'duration: 7200s\n', /must be from 1s to 3600s/],
    ['confidence too high', 'confidence: 0.9999\n', /must be a number from 0.5 to 0.999/],
    ['seed negative', 'order: { seed: -1 }\n', /must be a whole number from 0 to 4294967295/],
    ['shuffle not boolean', 'order: { shuffle: "yes" }\n', /must be true or false/],
    ['on drift unknown', 'calibration: { onDrift: retry }\n', /must be one of flag, exclude/],
    [
      'tolerance too small',
      'calibration: { tolerance: 0.1% }\n',
      /must be a percentage or fraction from 1% to 100%/,
    ],
    ['unknown target', 'target: cluster\n', /must be one of dev, kind/],
    [
      'too many runs',
      'repetitions: 1000\nfactors:\n  rate: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]\n',
      /11000 runs; at most 10000/,
    ],
    [
      'profile path of a wrong type',
      'fixed:\n  links.edge-cloud.latency: [1ms]\n',
      /must be a value the profile takes/,
    ],
    ['duplicate key', 'repetitions: 3\nrepetitions: 4\n', /is written twice; keep one/],
  ];
  for (const [name, extra, expected] of table) {
    it(name, () => {
      const problems = problemsOf(extra);
      if (expected === null) assert.deepEqual(problems, []);
      else {
        assert.ok(problems.length > 0, 'expected a problem');
        assert.ok(
          problems.some((p) => expected.test(p)),
          `no problem matches ${expected}:\n${problems.join('\n')}`,
        );
      }
    });
  }

  it('reports every problem at once, each with the file, line and path', () => {
    try {
      parseSpecText(`${BASE}repetitions: 0\nfactors:\n  rate: [-1]\n`, 'x.yaml');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof SpecError);
      assert.match(err.message, /invalid experiment \(2 problems\)/);
      assert.match(err.message, /x\.yaml:4:14: repetitions: must be/);
      assert.match(err.message, /x\.yaml:6:10: factors\.rate\[0\]: must be/);
    }
  });

  it('fills in the documented defaults', () => {
    const r = validateSpec(parse(BASE));
    assert.ok(r.ok);
    assert.equal(r.spec.repetitions, 5);
    assert.equal(r.spec.durationSeconds, 10);
    assert.equal(r.spec.target, 'dev');
    assert.equal(r.spec.calibration.tolerance, 0.15);
    assert.equal(r.spec.shuffle, true);
  });
});

describe('experiment design', () => {
  const spec = parseSpecText(
    `${BASE}repetitions: 3\nfactors:\n  rate: [10, 20]\n  connection: [reused, new]\n`,
    't',
  );
  it('is the full factorial, first factor slowest', () => {
    assert.deepEqual(
      conditionsOf(spec).map((c) => c.label),
      [
        'rate=10, connection=reused',
        'rate=10, connection=new',
        'rate=20, connection=reused',
        'rate=20, connection=new',
      ],
    );
  });
  it('plans every condition × repetition once, shuffled reproducibly by the seed', () => {
    const a = planRuns(spec).runs.map((r) => r.id);
    assert.equal(a.length, 12);
    assert.equal(new Set(a).size, 12);
    assert.deepEqual(
      planRuns(spec).runs.map((r) => r.id),
      a,
    );
    const other = planRuns({ ...spec, seed: 2 }).runs.map((r) => r.id);
    assert.notDeepEqual(other, a);
    const unshuffled = planRuns({ ...spec, shuffle: false }).runs.map((r) => r.id);
    assert.deepEqual(
      unshuffled.slice(0, 4),
      ['c1-r1', 'c2-r1', 'c3-r1', 'c4-r1'].map((x) => x.replace('c', 'c0')),
    );
  });
  it('measures the edge first in some runs and the cloud first in others', () => {
    const firsts = new Set(planRuns({ ...spec, repetitions: 10 }).runs.map((r) => r.sites[0]));
    assert.deepEqual([...firsts].sort(), ['cloud', 'edge']);
  });
});

describe('profile paths', () => {
  it('write into a copy of the profile, never into the preset', () => {
    const base = PRESETS['5g-mec'];
    assert.ok(base);
    const doc = withOverrides(base, [{ path: 'links.edge-cloud.latency', value: '40ms' }]);
    assert.equal(doc.links['edge-cloud']?.latency, '40ms');
    assert.equal(base.links['edge-cloud']?.latency, '9ms');
  });
  it('a level the topology model refuses is located at the level', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'exp-spec-'));
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, `${BASE}factors:\n  links.edge-cloud.latency: [5ms, 0.5ms]\n`);
    await assert.rejects(loadExperiment(file), (err: Error) => {
      assert.match(
        err.message,
        /bad\.yaml:5:35: factors\.links\.edge-cloud\.latency\[1\]: makes an invalid profile with links\.edge-cloud\.latency=0\.5ms: links\.edge-cloud\.jitter: \(1ms\) exceeds the latency/,
      );
      return true;
    });
  });
});

describe('built-in experiments and the JSON Schema', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  const check = ajv.compile(experimentSchema());
  it('every built-in experiment is valid and matches the schema', async () => {
    const names = await builtinNames();
    assert.deepEqual(names, ['backhaul', 'crossover', 'presets', 'smoke', 'uplink']);
    for (const name of names) {
      const x = await loadExperiment(name).catch((e: Error) => e);
      assert.ok(!(x instanceof Error), `${name}: ${x instanceof Error ? x.message : ''}`);
      assert.ok(check(parse(x.text)), `${name}: ${JSON.stringify(check.errors)}`);
    }
  });
  it('the schema refuses what the validator refuses, for the cases it can express', () => {
    for (const [extra, ok] of [
      ['', true],
      ['factors:\n  rate: [10, 20]\n', true],
      ['factors:\n  links.edge-cloud.latency: [5ms]\n', true],
      ['factors:\n  speed: [1]\n', false],
      ['repetitions: 0\n', false],
      ['fixed:\n  workload: video\n', false],
      ['duration: 10\n', false],
    ] as const) {
      assert.equal(check(parse(BASE + extra)), ok, extra);
      assert.equal(validateSpec(parse(BASE + extra)).ok, ok, extra);
    }
  });
});
