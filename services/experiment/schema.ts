// The experiment spec's JSON Schema (draft 2020-12) and the ranges table of experiments/README.md, generated from
// spec.ts's tables so editors check a spec as it is typed and every range is the validator's. The validator stays
// the authority: what a profile path produces is judged by the topology model, which a schema cannot run.
// `make generate` writes both (hack/generate/files.ts); its test fails when a committed copy is stale.
import { isDeepStrictEqual } from 'node:util';
import {
  API_VERSION,
  CALIBRATION_KEYS,
  CALIBRATION_RANGES,
  CONNECTIONS,
  DEFAULTS,
  DURATION_RANGES,
  IMAGE_MAX_PIXELS,
  IMAGE_SIDE,
  IMAGE_SIZE,
  KIND,
  MAX_RUNS,
  type NumberRange,
  ON_DRIFT,
  ORDER_KEYS,
  PROFILE_PATH,
  SETTING_DEFAULTS,
  SETTING_RANGES,
  SPEC_DURATION,
  TARGETS,
  TOP_KEYS,
  TOP_RANGES,
  WORKLOADS,
} from './spec.ts';

type Schema = Record<string, unknown>;

function number(r: NumberRange, extra: Schema = {}): Schema {
  return {
    type: r.integer ? 'integer' : 'number',
    minimum: r.min,
    maximum: r.max,
    description: `${r.what[0]?.toUpperCase()}${r.what.slice(1)}${r.unit ? ` (${r.unit})` : ''}, ${r.min} to ${r.max}.`,
    ...extra,
  };
}

function duration(r: NumberRange, fallback: string): Schema {
  return {
    type: 'string',
    pattern: SPEC_DURATION.source,
    description: `${r.what[0]?.toUpperCase()}${r.what.slice(1)}: a duration (ms, s, m) from ${r.min}s to ${r.max}s; default ${fallback}.`,
  };
}

function settingSchemas(): Record<string, Schema> {
  const s: Record<string, Schema> = {
    profile: {
      type: 'string',
      minLength: 1,
      description: 'A preset name or a profile file (relative to the spec).',
    },
    workload: {
      enum: [...WORKLOADS],
      description: `What each request does; default ${SETTING_DEFAULTS.workload}.`,
    },
    connection: {
      enum: [...CONNECTIONS],
      description: `Kept-alive connections, or a new TCP connection per request; default ${SETTING_DEFAULTS.connection}.`,
    },
    imageSize: {
      type: 'string',
      pattern: IMAGE_SIZE.source,
      description: `The inspect image, WIDTHxHEIGHT pixels (16 to 4096 a side); default ${SETTING_DEFAULTS.imageSize}.`,
    },
  };
  for (const [k, r] of Object.entries(SETTING_RANGES))
    s[k] = number(r, {
      description: `${number(r).description} Default ${SETTING_DEFAULTS[k as keyof typeof SETTING_RANGES]}.`,
    });
  return s;
}

/** The JSON Schema of an experiment spec. Pure. */
export function experimentSchema(): Schema {
  return checkKeys(buildSchema());
}

function buildSchema(): Schema {
  const settings = settingSchemas();
  const profileValue = {
    anyOf: [{ type: 'string' }, { type: 'number' }],
    description:
      'A value in the profile’s own units (20ms, 1%, 100Mbit, or cores); the topology model checks it.',
  };
  const condition = (of: (s: Schema) => Schema) => ({
    type: 'object',
    properties: Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, of(v)])),
    patternProperties: { [PROFILE_PATH.source]: of(profileValue) },
    additionalProperties: false,
  });
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://mec-testbed.dev/schemas/experiment-v1alpha1.json',
    title: 'mec-testbed Experiment',
    description: 'Factors and their levels, repetitions and timing of an experiment (make experiment).',
    type: 'object',
    required: ['apiVersion', 'kind', 'name'],
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      apiVersion: { const: API_VERSION },
      kind: { const: KIND },
      name: {
        type: 'string',
        pattern: '^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$',
        description: 'Names the result set.',
      },
      description: { type: 'string' },
      target: { enum: [...TARGETS], description: `Where it runs; default ${DEFAULTS.target}.` },
      profile: {
        type: 'string',
        minLength: 1,
        description: `The base profile; default ${DEFAULTS.profile}.`,
      },
      fixed: { ...condition((s) => s), description: 'Settings every run shares.' },
      factors: {
        ...condition((s) => ({ type: 'array', minItems: 1, uniqueItems: true, items: s })),
        description: 'Settings and their levels: every combination is a condition (full factorial).',
      },
      conditions: {
        type: 'array',
        minItems: 1,
        items: condition((s) => s),
        description: 'A listed design, instead of factors.',
      },
      repetitions: number(TOP_RANGES.repetitions, { default: DEFAULTS.repetitions }),
      duration: duration(DURATION_RANGES.duration, DEFAULTS.duration),
      warmup: duration(DURATION_RANGES.warmup, DEFAULTS.warmup),
      pause: duration(DURATION_RANGES.pause, DEFAULTS.pause),
      order: {
        type: 'object',
        additionalProperties: false,
        properties: {
          shuffle: { type: 'boolean', default: DEFAULTS.shuffle },
          seed: number(TOP_RANGES.seed, { default: DEFAULTS.seed }),
        },
      },
      confidence: number(TOP_RANGES.confidence, { default: DEFAULTS.confidence }),
      calibration: {
        type: 'object',
        additionalProperties: false,
        properties: {
          requests: number(CALIBRATION_RANGES.requests, { default: DEFAULTS.calibration.requests }),
          tolerance: {
            description: `${CALIBRATION_RANGES.tolerance.what}: 1% to 100% (15% or 0.15); default 15%.`,
            anyOf: [
              {
                type: 'number',
                minimum: CALIBRATION_RANGES.tolerance.min,
                maximum: CALIBRATION_RANGES.tolerance.max,
              },
              { type: 'string', pattern: '^\\s*\\d+(\\.\\d+)?\\s*%\\s*$' },
            ],
          },
          onDrift: { enum: [...ON_DRIFT], default: DEFAULTS.calibration.onDrift },
        },
      },
    },
  };
}

/** The schema's fields are the validator's: a field added to one and not the other fails here (and in the test). */
function checkKeys(schema: Schema): Schema {
  const props = (s: unknown) => Object.keys((s as { properties: object }).properties).sort();
  const top = schema.properties as Record<string, unknown>;
  for (const [have, want] of [
    [props(schema), TOP_KEYS],
    [props(top.order), ORDER_KEYS],
    [props(top.calibration), CALIBRATION_KEYS],
  ] as const)
    if (!isDeepStrictEqual(have, [...want].sort()))
      throw new Error(`schema fields ${have} differ from the validator's ${want}`);
  return schema;
}

/** Every number of a spec with its range and default, as the Markdown table experiments/README.md shows. */
export function rangesTable(): string {
  const rows: string[][] = [];
  const add = (field: string, r: NumberRange, fallback: unknown) =>
    rows.push([
      `\`${field}\``,
      `${r.min} – ${r.max}${r.unit ? ` ${r.unit}` : ''}${r.integer ? ', whole' : ''}`,
      String(fallback),
      r.what,
    ]);
  for (const [k, r] of Object.entries(SETTING_RANGES))
    add(k, r, SETTING_DEFAULTS[k as keyof typeof SETTING_RANGES]);
  rows.push([
    '`imageSize`',
    `${IMAGE_SIDE.min} – ${IMAGE_SIDE.max} a side, at most ${IMAGE_MAX_PIXELS} pixels`,
    SETTING_DEFAULTS.imageSize,
    'the inspect image, WIDTHxHEIGHT',
  ]);
  add('repetitions', TOP_RANGES.repetitions, DEFAULTS.repetitions);
  for (const [k, r] of Object.entries(DURATION_RANGES))
    rows.push([`\`${k}\``, `${r.min}s – ${r.max}s`, DEFAULTS[k as keyof typeof DURATION_RANGES], r.what]);
  add('order.seed', TOP_RANGES.seed, DEFAULTS.seed);
  add('confidence', TOP_RANGES.confidence, DEFAULTS.confidence);
  add('calibration.requests', CALIBRATION_RANGES.requests, DEFAULTS.calibration.requests);
  rows.push(['`calibration.tolerance`', '1% – 100%', '15%', CALIBRATION_RANGES.tolerance.what]);
  rows.push(['runs in total', `1 – ${MAX_RUNS}`, '', 'conditions × repetitions']);
  return [
    '| field | range | default | what |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}
