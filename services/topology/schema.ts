// The link profile's JSON Schema (draft 2020-12), generated from the model's own constants so editors can
// check a profile as it is typed. The validator (validate.ts) stays the authority: a schema cannot say
// "jitter at most the latency" or "every site reachable", so those rules are only described here.
// `node services/topology/schema.ts` rewrites link-profile.schema.json; `--check` fails when it is stale;
// `--presets-table` prints the presets as a Markdown table for the README.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import {
  API_VERSION,
  CORES_RANGE,
  DEFAULT_CORES,
  JITTER_DISTRIBUTIONS,
  KIND,
  SITE_ROLES,
  type Topology,
} from './model.ts';
import { pathImpairment, predictedReduction, roundTripSeconds } from './paths.ts';
import { DEFAULT_PRESET, PRESETS } from './presets.ts';
import { DURATION, formatDuration, formatLoss, formatRate, LOSS_PERCENT, RATE } from './units.ts';
import { IMPAIRMENT_KEYS, LINK_KEYS, PROFILE_NAME, SITE_NAME, TOP_KEYS, topologyFrom } from './validate.ts';

export const SCHEMA_FILE = fileURLToPath(new URL('./link-profile.schema.json', import.meta.url));
export const SCHEMA_ID = 'https://mec-testbed.dev/schemas/link-profile-v1alpha1.json';

type Schema = Record<string, unknown>;

/** A regex's source without its anchors, so it can be embedded in a larger pattern. */
function body(re: RegExp): string {
  return re.source.replace(/^\^/, '').replace(/\$$/, '');
}

/**
 * JSON Schema patterns have no flags, so a case-insensitive regex is spelled out: every letter outside an
 * escape becomes a class of both cases (the rate units are accepted as Mbit, mbit or MBIT by the validator).
 */
export function caseInsensitiveSource(source: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      out += c + (source[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    const lower = c.toLowerCase();
    const upper = c.toUpperCase();
    // A letter range inside a class ([a-z]) cannot be widened letter by letter; fail loudly if one appears.
    if (lower !== upper && inClass)
      throw new Error(`cannot make /${source}/ case-insensitive: letter in a class`);
    out += lower !== upper ? `[${lower}${upper}]` : c;
  }
  return out;
}

/** The validator trims strings before matching; the schema allows the same surrounding blanks. */
function trimmed(re: RegExp, source = body(re)): string {
  return `^\\s*(?:${source})\\s*$`;
}

function impairmentProperties(): Record<string, Schema> {
  const properties: Record<string, Schema> = {
    latency: {
      $ref: '#/$defs/duration',
      description: 'One-way delay added to every packet in this direction (default 0ms).',
    },
    jitter: {
      $ref: '#/$defs/duration',
      description:
        'Spread of the delay, drawn from `distribution` (default 0ms). Must not exceed the latency: a delay cannot go below zero (checked by the validator).',
    },
    distribution: { $ref: '#/$defs/distribution' },
    loss: { $ref: '#/$defs/loss' },
    rate: { $ref: '#/$defs/rate' },
  };
  // Keep the schema's fields exactly the validator's: a field added there without a schema entry fails here.
  for (const key of IMPAIRMENT_KEYS) {
    if (!properties[key]) throw new Error(`schema.ts does not describe impairment field "${key}"`);
  }
  return properties;
}

/** The JSON Schema of a LinkProfileDocument. Pure: the same model gives the same schema. */
export function linkProfileSchema(): Schema {
  const site = body(SITE_NAME);
  const impairment = impairmentProperties();
  const linkProperties: Record<string, Schema> = {
    ...impairment,
    description: {
      type: 'string',
      description: 'What this link stands for, and where its numbers come from.',
    },
    directions: {
      type: 'object',
      description:
        'Per-direction overrides, keyed "a->b" with the two sites of this link; unset fields keep the link-wide value.',
      propertyNames: { pattern: `^${site}->${site}$` },
      additionalProperties: { $ref: '#/$defs/impairment' },
    },
  };
  for (const key of LINK_KEYS) {
    if (!linkProperties[key]) throw new Error(`schema.ts does not describe link field "${key}"`);
  }
  const topProperties: Record<string, Schema> = {
    apiVersion: { const: API_VERSION },
    kind: { const: KIND },
    name: {
      type: 'string',
      pattern: PROFILE_NAME.source,
      description: 'Lower-case letters, digits and dashes, at most 63.',
    },
    description: { type: 'string' },
    sources: {
      type: 'array',
      items: { type: 'string' },
      description: 'Where the numbers come from; presets cite theirs.',
    },
    sites: {
      description: `The sites and their compute. The testbed has one site per role, named after it (${SITE_ROLES.join(', ')}); unset sites keep their defaults (edge ${DEFAULT_CORES.edge} cores, cloud ${DEFAULT_CORES.cloud}). A list of the three names is also accepted.`,
      oneOf: [
        {
          type: 'object',
          propertyNames: { enum: [...SITE_ROLES] },
          additionalProperties: {
            anyOf: [{ type: 'null' }, { $ref: '#/$defs/site' }],
          },
        },
        {
          type: 'array',
          items: { enum: [...SITE_ROLES] },
          uniqueItems: true,
          allOf: SITE_ROLES.map((s) => ({ contains: { const: s } })),
        },
      ],
    },
    links: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: `^${site}-${site}$` },
      additionalProperties: { $ref: '#/$defs/link' },
      description:
        'Undirected links keyed "a-b" (e.g. "ue-edge"); traffic between sites that no link joins crosses a chain of links (ue -> cloud crosses ue-edge then edge-cloud). Every site must be reachable.',
    },
  };
  for (const key of TOP_KEYS) {
    if (!topProperties[key]) throw new Error(`schema.ts does not describe top-level field "${key}"`);
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: SCHEMA_ID,
    title: 'mec-testbed link profile',
    description: `A ${KIND} (${API_VERSION}): the sites of the testbed and what each link between them does to traffic, one-way and per direction. Generated by services/topology/schema.ts from the topology model; the validator there is the authority.`,
    type: 'object',
    required: ['apiVersion', 'kind', 'name', 'links'],
    additionalProperties: false,
    properties: topProperties,
    $defs: {
      duration: {
        type: 'string',
        pattern: trimmed(DURATION),
        description: 'A duration with its unit: 6ms, 0.5ms, 250us, 1s.',
        examples: ['6ms', '0.5ms', '250us'],
      },
      rate: {
        type: 'string',
        pattern: trimmed(RATE, caseInsensitiveSource(body(RATE))),
        description: 'A bit rate in tc spelling: 64kbit, 80Mbit, 10Gbit. Unset means not limited.',
        examples: ['80Mbit', '10Gbit'],
      },
      loss: {
        description: 'Loss probability per packet: a percentage ("0.1%") or a fraction from 0 to below 1.',
        oneOf: [
          { type: 'string', pattern: trimmed(LOSS_PERCENT) },
          { type: 'number', minimum: 0, exclusiveMaximum: 1 },
        ],
        examples: ['0.1%', 0.001],
      },
      distribution: {
        enum: [...JITTER_DISTRIBUTIONS],
        description:
          'How jitter is drawn (netem tables): uniform, normal (default), pareto or paretonormal (heavy-tailed).',
      },
      site: {
        type: 'object',
        additionalProperties: false,
        properties: {
          role: {
            enum: [...SITE_ROLES],
            description: 'What the site is for; must be the name it is keyed by.',
          },
          cores: {
            type: 'number',
            minimum: CORES_RANGE.min,
            maximum: CORES_RANGE.max,
            description: `CPU cores of an edge or cloud site (not the UE): the services' worker pools on make dev, their CPU limits on kind. From ${CORES_RANGE.min} to ${CORES_RANGE.max}, in millicores.`,
          },
        },
      },
      impairment: {
        type: 'object',
        additionalProperties: false,
        properties: impairment,
      },
      link: {
        type: 'object',
        additionalProperties: false,
        properties: linkProperties,
      },
    },
  };
}

/** The file's exact text: stable key order, two-space indent, trailing newline (what biome keeps). */
export function schemaText(): string {
  return `${JSON.stringify(linkProfileSchema(), null, 2)}\n`;
}

/**
 * Whether the committed file says what the model says. Compared as parsed JSON, not text, because biome may
 * re-wrap the file's short arrays; any change of content still counts as stale.
 */
export function schemaFileIsCurrent(file = SCHEMA_FILE): boolean {
  try {
    return isDeepStrictEqual(JSON.parse(readFileSync(file, 'utf8')), linkProfileSchema());
  } catch {
    return false;
  }
}

/** The presets as a Markdown table: one-way delays, predicted round trips and the edge's cut. */
export function presetsTable(): string {
  const rows = Object.keys(PRESETS).map((name) => {
    const t: Topology = topologyFrom(PRESETS[name], `preset ${name}`);
    const hop = (from: string, to: string) => {
      const i = pathImpairment(t, from, to);
      return `${formatDuration(i.latencySeconds)} ±${formatDuration(i.jitterSeconds)} ${i.distribution}, loss ${formatLoss(i.loss)}, ${formatRate(i.rateBitsPerSecond)}`;
    };
    const ms = (s: number) => `${Math.round(s * 1e4) / 10} ms`;
    return `| ${name}${name === DEFAULT_PRESET ? ' (default)' : ''} | ${hop('ue', 'edge')} | ${hop('edge', 'ue')} | ${hop('edge', 'cloud')} | ${ms(roundTripSeconds(t, 'ue', 'edge'))} | ${ms(roundTripSeconds(t, 'ue', 'cloud'))} | ${Math.round(predictedReduction(t) * 100)}% |`;
  });
  return [
    '| preset | ue→edge (up) | edge→ue (down) | edge→cloud | RTT edge | RTT cloud | cut |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = process.argv[2];
  if (arg === '--check') {
    if (!schemaFileIsCurrent()) {
      console.error(`${SCHEMA_FILE} is stale; run: node services/topology/schema.ts`);
      process.exit(1);
    }
  } else if (arg === '--presets-table') {
    console.log(presetsTable());
  } else if (arg === undefined) {
    writeFileSync(SCHEMA_FILE, schemaText());
    console.log(`wrote ${SCHEMA_FILE}`);
  } else {
    console.error('usage: node services/topology/schema.ts [--check | --presets-table]');
    process.exit(2);
  }
}
