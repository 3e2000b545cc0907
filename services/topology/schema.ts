// The link profile's one schema (zod): the TypeScript type of a document as written, the located message of
// every field-level problem, and the published JSON Schema all come from here. What a schema cannot say
// (a link's ends are declared sites, jitter at most the latency, every site reachable) is checked by
// validate.ts on what this schema has parsed.
import * as z from 'zod';
import { quote } from './located.ts';
import {
  API_VERSION,
  CORES_RANGE,
  DEFAULT_CORES,
  JITTER_DISTRIBUTIONS,
  KIND,
  LINK_ROLES,
  SITE_ROLES,
} from './model.ts';
import {
  DURATION,
  DURATION_HINT,
  formatDuration,
  formatRate,
  LOSS_HINT,
  LOSS_PERCENT,
  type ParseResult,
  parseCores,
  parseDuration,
  parseLoss,
  parseRate,
  RANGES,
  RATE,
  RATE_HINT,
} from './units.ts';

/** A site name: a lower-case letter, then letters or digits, at most 15 (it becomes a label and a DNS name). */
export const SITE_NAME = /^[a-z][a-z0-9]{0,14}$/;
/** A profile name: a Kubernetes name (it is an annotation and a metric label). */
export const PROFILE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const SITE = SITE_NAME.source.slice(1, -1);
/** A link's key: two site names joined by `-`. */
export const LINK_NAME = new RegExp(`^${SITE}-${SITE}$`);
/** A direction's key: two site names joined by `->`. */
export const DIRECTION_NAME = new RegExp(`^${SITE}->${SITE}$`);

/** How long a free-text field may be: a description, a source. */
export const TEXT_LIMIT = 1000;
/** How many sources a profile may cite. */
export const SOURCES_LIMIT = 32;

// --- Reusable pieces (an experiment spec is built from the same ones). ----------------------------------

/** A zod error function whose message quotes the value it refused. */
export function saying(message: (input: string) => string) {
  return { error: (issue: { input?: unknown }) => message(quote(issue.input)) };
}

/** A mapping with exactly these fields: an unknown one is named at its own path, with what is allowed. */
export function strictMapping<Shape extends z.core.$ZodLooseShape>(shape: Shape, what: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `is not a known field; allowed here: ${allowed}`
        : `must be a mapping ${what}, got ${quote(issue.input)}`,
  });
}

/** A free text of at most TEXT_LIMIT characters. */
export function textField(what = 'a string') {
  return z
    .string(saying((got) => `must be ${what}, got ${got}`))
    .max(TEXT_LIMIT, { error: `is longer than ${TEXT_LIMIT} characters` });
}

/** A zod transform through one of units.ts' parsers: the number, or the parser's message as the issue. */
export function parsedBy(parse: (input: unknown) => ParseResult) {
  return (input: unknown, ctx: z.core.$RefinementCtx<unknown>): number => {
    const r = parse(input);
    if (r.ok) return r.value;
    ctx.issues.push({ code: 'custom', message: r.message, input });
    return z.NEVER;
  };
}

/** A string checked by its pattern, then turned into a number by `parse` (which also checks the range). */
function quantity(pattern: RegExp, parse: (input: unknown) => ParseResult, refused: (got: string) => string) {
  return z.string(saying(refused)).regex(pattern, saying(refused)).transform(parsedBy(parse));
}

export const durationSchema = quantity(
  DURATION,
  parseDuration,
  (got) => `${got} is not a duration; ${DURATION_HINT}`,
).meta({
  id: 'duration',
  description: `A duration with its unit (us, ms, s): from 0 to ${formatDuration(RANGES.durationSeconds.max)} in whole microseconds.`,
});

export const rateSchema = quantity(RATE, parseRate, (got) => `${got} is not a rate; ${RATE_HINT}`).meta({
  id: 'rate',
  description: `A bit rate in tc's spelling (kbit, Mbit, Gbit, Tbit; any case): from ${formatRate(RANGES.rateBitsPerSecond.min)} to ${formatRate(RANGES.rateBitsPerSecond.max)}, whole bits per second. Unset means not limited.`,
});

const lossRefused = (got: string) => `${got} is not a loss probability; ${LOSS_HINT}`;
export const lossSchema = z
  .union(
    [
      z.string().regex(LOSS_PERCENT, saying(lossRefused)),
      z
        .number(saying(lossRefused))
        .min(RANGES.loss.min, saying(lossRefused))
        .lt(RANGES.loss.below, saying(lossRefused)),
    ],
    saying(lossRefused),
  )
  .transform(parsedBy(parseLoss))
  .meta({
    id: 'loss',
    description:
      'Loss probability per packet: a percentage ("0.1%") or a fraction from 0 to below 1, in steps of one in a million.',
  });

export const coresSchema = z
  .number(saying((got) => `${got} is not a number of cores; write a number such as 0.5, 1 or 4`))
  .transform(parsedBy(parseCores))
  .meta({
    description: `CPU cores of an edge or cloud site (not the UE): the services' worker pools on make dev, their CPU limits on kind. From ${CORES_RANGE.min} to ${CORES_RANGE.max}, in millicores (at most 3 decimals).`,
    minimum: CORES_RANGE.min,
    maximum: CORES_RANGE.max,
  });

// --- The link profile. ----------------------------------------------------------------------------------

const distributionSchema = z
  .enum(
    JITTER_DISTRIBUTIONS,
    saying((got) => `must be one of ${JITTER_DISTRIBUTIONS.join(', ')}, got ${got}`),
  )
  .meta({
    id: 'distribution',
    description:
      'How jitter is drawn (netem tables): uniform, normal (default), pareto or paretonormal (heavy-tailed).',
  });

const impairmentShape = {
  latency: durationSchema
    .optional()
    .meta({ description: 'One-way delay added to every packet in this direction (default 0ms).' }),
  jitter: durationSchema.optional().meta({
    description:
      'Spread of the delay, drawn from `distribution` (default 0ms). Must not exceed the latency: a delay cannot go below zero (checked by the validator).',
  }),
  distribution: distributionSchema.optional(),
  loss: lossSchema.optional(),
  rate: rateSchema.optional(),
};

const impairmentSchema = strictMapping(impairmentShape, 'of latency, jitter, distribution, loss, rate').meta({
  id: 'impairment',
});

const linkSchema = strictMapping(
  {
    ...impairmentShape,
    description: textField()
      .optional()
      .meta({ description: 'What this link stands for, and where its numbers come from.' }),
    directions: z
      .record(
        z.string().regex(
          DIRECTION_NAME,
          saying(
            (got) => `${got} is not a direction; write "from->to" with this link's two sites (ue->edge)`,
          ),
        ),
        impairmentSchema,
        saying((got) => `must map "from->to" directions to overrides, got ${got}`),
      )
      .optional()
      .meta({
        description:
          'Per-direction overrides, keyed "a->b" with the two sites of this link; unset fields keep the link-wide value.',
      }),
  },
  'of latency, jitter, distribution, loss, rate, description, directions',
).meta({ id: 'link' });

const siteSchema = strictMapping(
  {
    role: z
      .enum(
        SITE_ROLES,
        saying((got) => `must be one of ${SITE_ROLES.join(', ')}, got ${got}`),
      )
      .optional()
      .meta({ description: 'What the site is for; it must be the name the site is keyed by.' }),
    cores: coresSchema.optional(),
  },
  'of role, cores',
).meta({ id: 'site' });

const siteRefused = (got: string) =>
  `${got} is not a site of the testbed: it has one site per role, named after it (${SITE_ROLES.join(', ')})`;
const siteNameSchema = z.enum(SITE_ROLES, saying(siteRefused));

const sitesSchema = z
  .union(
    [
      z.partialRecord(siteNameSchema, siteSchema.nullable(), {
        error: (issue) =>
          // An enum-keyed record reports a key outside the enum as an unknown key.
          (issue.code as string) === 'unrecognized_keys'
            ? `is not a site of the testbed: it has one site per role, named after it (${SITE_ROLES.join(', ')})`
            : `must map site names (${SITE_ROLES.join(', ')}) to their role and cores, got ${quote(issue.input)}`,
      }),
      z
        .array(siteNameSchema)
        .max(SITE_ROLES.length * 2, { error: 'lists more sites than the testbed has' })
        .meta({ uniqueItems: true, allOf: SITE_ROLES.map((role) => ({ contains: { const: role } })) }),
    ],
    saying((got) => `must map site names (${SITE_ROLES.join(', ')}) to their role and cores, got ${got}`),
  )
  .meta({
    description: `The sites and their compute. The testbed has one site per role, named after it (${SITE_ROLES.join(', ')}); unset sites and fields keep their defaults (edge ${DEFAULT_CORES.edge} cores, cloud ${DEFAULT_CORES.cloud}). A list of the three names is also accepted.`,
  });

const linksRefused = 'must map link names "a-b" (e.g. "ue-edge") to their latency, jitter, loss and rate';
const linkNameRefused = (got: string) =>
  `link names are two different sites joined by "-" (e.g. "ue-edge"), got ${got}`;
/** A link's key names two sites of the testbed whose roles a link may join: known without the rest of the document. */
const linkNameSchema = z
  .string()
  .regex(LINK_NAME, saying(linkNameRefused))
  .superRefine((key, ctx) => {
    if (!LINK_NAME.test(key)) return;
    const ends = key.split('-') as [string, string];
    const fail = (message: string) => ctx.addIssue({ code: 'custom', message, input: key });
    if (ends[0] === ends[1]) return fail(linkNameRefused(quote(key)));
    const roles = ends.map((end) => SITE_ROLES.find((role) => role === end));
    ends.forEach((end, i) => {
      if (!roles[i]) fail(`names site "${end}", which is not declared (sites: ${SITE_ROLES.join(', ')})`);
    });
    const [a, b] = roles;
    if (a && b && !LINK_ROLES.some(([x, y]) => (a === x && b === y) || (a === y && b === x)))
      fail(
        `joins a ${a} site to a ${b} site; links join ${LINK_ROLES.map((r) => r.join('-')).join(' or ')} (the testbed routes a UE to the cloud through the edge)`,
      );
  });

const linksSchema = z
  .record(linkNameSchema, linkSchema, { error: linksRefused })
  .refine((links) => Object.keys(links).length > 0, { error: linksRefused })
  .meta({
    description:
      'Undirected links keyed "a-b": ue-edge (the access) and edge-cloud (the backhaul). Traffic from the UE to the cloud crosses both; a direct ue-cloud link is refused.',
    minProperties: 1,
  });

export const linkProfileSchema = strictMapping(
  {
    apiVersion: z.literal(
      API_VERSION,
      saying((got) => `must be "${API_VERSION}", got ${got}`),
    ),
    kind: z.literal(
      KIND,
      saying((got) => `must be "${KIND}", got ${got}`),
    ),
    name: z
      .string(saying((got) => `must be lower-case letters, digits and dashes (at most 63), got ${got}`))
      .regex(
        PROFILE_NAME,
        saying((got) => `must be lower-case letters, digits and dashes (at most 63), got ${got}`),
      )
      .meta({ description: 'Lower-case letters, digits and dashes, at most 63.' }),
    description: textField().optional(),
    sources: z
      .array(
        textField('a list of strings'),
        saying((got) => `must be a list of strings, got ${got}`),
      )
      .max(SOURCES_LIMIT, { error: `lists more than ${SOURCES_LIMIT} sources` })
      .optional()
      .meta({ description: 'Where the numbers come from; presets cite theirs.' }),
    sites: sitesSchema.optional(),
    links: linksSchema,
  },
  '(YAML object) with apiVersion, kind, name and links',
);

/** A link profile as a user writes it (YAML) or as a preset declares it. */
export type LinkProfileDocument = z.input<typeof linkProfileSchema>;
/** A link as written: the shared impairment plus optional per-direction overrides keyed `a->b`. */
export type LinkDocument = z.input<typeof linkSchema>;
/** One direction's impairment, as written in a profile (units in the strings). */
export type ImpairmentDocument = z.input<typeof impairmentSchema>;
/** A site as written: its role (default: its name) and, for edge and cloud, its CPU cores. */
export type SiteDocument = z.input<typeof siteSchema>;
/** What the schema makes of a document: numbers in SI units, not yet checked across fields. */
export type ParsedProfile = z.output<typeof linkProfileSchema>;

export const SCHEMA_ID = 'https://mec-testbed.dev/schemas/link-profile-v1alpha1.json';

/** The published JSON Schema (draft 2020-12) of a link profile, for editors. Pure. */
export function linkProfileJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(linkProfileSchema, {
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'throw',
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'mec-testbed link profile',
    description: `A ${KIND} (${API_VERSION}): the sites of the testbed and what each link between them does to traffic, one-way and per direction. Generated from services/topology/schema.ts; the validator there also checks what a schema cannot say (a link's ends, jitter at most the latency, every site reachable).`,
    ...rest,
  };
}
