import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { PRESETS, validateProfile } from './index.ts';
import { presetsTable } from './readme-tables.ts';
import { linkProfileJsonSchema } from './schema.ts';

// ajv is the reference draft 2020-12 implementation; compiling with strict mode also proves the generated
// schema uses only keywords the draft defines.
const ajv = new Ajv2020({ strict: true, allErrors: true });
const check = ajv.compile(linkProfileJsonSchema());

describe('link profile JSON Schema', () => {
  for (const [name, doc] of Object.entries(PRESETS)) {
    it(`preset ${name} validates against the schema`, () => {
      assert.ok(check(doc), JSON.stringify(check.errors));
    });
  }

  // Documents both the schema and the validator must agree on; the schema cannot express every rule
  // (jitter ≤ latency, reachability), so those are checked only as validator-only rejections below.
  // biome-ignore lint/suspicious/noExplicitAny: test edits reach into arbitrary document paths
  type Doc = Record<string, any>;
  const base = structuredClone(PRESETS['5g-mec']) as unknown as Record<string, unknown>;
  const variant = (edit: (d: Doc) => void) => {
    const d = structuredClone(base) as Doc;
    edit(d);
    return d;
  };
  const cases: Array<[string, unknown, boolean]> = [
    ['preset as is', base, true],
    ['rate in upper case', variant((d) => (d.links['ue-edge'].rate = '80MBIT')), true],
    ['loss as a fraction', variant((d) => (d.links['ue-edge'].loss = 0.001)), true],
    ['microseconds', variant((d) => (d.links['ue-edge'].jitter = '250us')), true],
    ['latency without unit', variant((d) => (d.links['ue-edge'].latency = '5')), false],
    ['unknown field', variant((d) => (d.links['ue-edge'].delay = '5ms')), false],
    ['bad distribution', variant((d) => (d.links['ue-edge'].distribution = 'gauss')), false],
    ['loss of one', variant((d) => (d.links['ue-edge'].loss = 1)), false],
    ['wrong apiVersion', variant((d) => (d.apiVersion = 'v1')), false],
    ['bad link name', variant((d) => (d.links.ue_edge = { latency: '1ms' })), false],
    ['bad direction key', variant((d) => (d.links['ue-edge'].directions = { 'ue-edge': {} })), false],
    ['missing required site', variant((d) => (d.sites = ['ue', 'edge'])), false],
    ['the three sites listed', variant((d) => (d.sites = ['ue', 'edge', 'cloud'])), true],
    [
      'site compute',
      variant((d) => (d.sites = { edge: { role: 'edge', cores: 1 }, cloud: { cores: 4 } })),
      true,
    ],
    ['a fourth site', variant((d) => (d.sites = { mars: { role: 'edge' } })), false],
    ['cores out of range', variant((d) => (d.sites = { edge: { cores: 0 } })), false],
    ['no links', variant((d) => (d.links = {})), false],
  ];
  for (const [what, doc, valid] of cases) {
    it(`${what}: schema and validator both say ${valid ? 'valid' : 'invalid'}`, () => {
      assert.equal(check(doc), valid, `schema: ${JSON.stringify(check.errors)}`);
      assert.equal(validateProfile(doc).ok, valid);
    });
  }

  it('rules the schema cannot express are left to the validator', () => {
    const cases: Array<[string, Doc]> = [
      ['jitter over latency', variant((d) => (d.links['ue-edge'].jitter = '9ms'))],
      ['a missing link', variant((d) => delete d.links['edge-cloud'])],
      ['a direct ue-cloud link', variant((d) => (d.links['ue-cloud'] = { latency: '1ms' }))],
      ['a latency over 10s', variant((d) => (d.links['ue-edge'].latency = '11s'))],
      ['a delay finer than a microsecond', variant((d) => (d.links['ue-edge'].latency = '1.5us'))],
      ['a rate below 1kbit', variant((d) => (d.links['ue-edge'].rate = '999bit'))],
      ['cores on the UE', variant((d) => (d.sites = { ue: { cores: 1 } }))],
    ];
    for (const [what, doc] of cases) {
      assert.equal(check(doc), true, `${what}: ${JSON.stringify(check.errors)}`);
      assert.equal(validateProfile(doc).ok, false, what);
    }
  });

  it('prints a presets table with every preset and its cut', () => {
    const table = presetsTable();
    for (const name of Object.keys(PRESETS)) assert.match(table, new RegExp(`\\| ${name}`));
    assert.match(table, /5g-mec \(default\).*\| 12 ms \| 30 ms \| 60% \|/);
  });
});
