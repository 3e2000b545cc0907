// Generators of link-profile documents for the profile fuzz tests: whole documents shaped like profiles with
// every number hostile, hostile YAML, and presets mutated byte by byte.
import { stringify } from 'yaml';
import { API_VERSION, CORES_RANGE, KIND, PRESETS, RANGES } from '../../services/topology/index.ts';
import {
  fc,
  hostileString,
  hostileValue,
  hostileYaml,
  mutated,
  numberText,
  quantityText,
} from '../support/fuzz.ts';

const DURATION_UNITS = ['ms', 'us', 'µs', 's', 'ns', 'm', 'h'];
const RATE_UNITS = ['bit', 'kbit', 'mbit', 'gbit', 'Mbit', 'Gbit/s', 'kbps', 'tbit', 'bps'];
const LINK_NAMES = [
  'ue-edge',
  'edge-cloud',
  'ue-cloud',
  'edge-ue',
  'cloud-edge',
  'ue-ue',
  'a-b',
  'ue-edge-cloud',
];

function impairment(): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      latency: fc.oneof(quantityText(DURATION_UNITS), hostileValue(1)),
      jitter: fc.oneof(quantityText(DURATION_UNITS), hostileValue(1)),
      distribution: fc.oneof(fc.constantFrom('normal', 'uniform', 'pareto', 'paretonormal'), hostileString()),
      loss: fc.oneof(quantityText(['%', '']), fc.double(), numberText(), hostileValue(1)),
      rate: fc.oneof(quantityText(RATE_UNITS), hostileValue(1)),
    },
    { requiredKeys: [] },
  );
}

function link(): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(
      impairment(),
      fc.option(
        fc.dictionary(
          fc.constantFrom('ue->edge', 'edge->ue', 'edge->cloud', 'cloud->edge', 'x->y'),
          impairment(),
          {
            maxKeys: 2,
          },
        ),
        { nil: undefined },
      ),
    )
    .map(([base, directions]) => (directions ? { ...base, directions } : base));
}

/** A document shaped like a profile: the right keys mostly, hostile values everywhere. */
export function profileDocument(): fc.Arbitrary<Record<string, unknown>> {
  return fc.record(
    {
      apiVersion: fc.oneof(
        { weight: 9, arbitrary: fc.constant(API_VERSION) },
        { weight: 1, arbitrary: hostileValue(1) },
      ),
      kind: fc.oneof({ weight: 9, arbitrary: fc.constant(KIND) }, { weight: 1, arbitrary: hostileValue(1) }),
      name: fc.oneof(
        { weight: 4, arbitrary: fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/) },
        { weight: 1, arbitrary: hostileString() },
      ),
      description: hostileValue(1),
      sites: fc.oneof(
        fc.constant(['ue', 'edge', 'cloud']),
        fc.record(
          {
            ue: fc.oneof(fc.constant({}), hostileValue(1)),
            edge: fc.record(
              { cores: fc.oneof(fc.double(), numberText(), hostileValue(1)) },
              { requiredKeys: [] },
            ),
            cloud: fc.record(
              { cores: fc.oneof(fc.double(), numberText(), hostileValue(1)) },
              { requiredKeys: [] },
            ),
          },
          { requiredKeys: [] },
        ),
        hostileValue(2),
      ),
      links: fc.oneof(
        {
          weight: 6,
          arbitrary: fc.dictionary(fc.constantFrom(...LINK_NAMES), link(), { minKeys: 1, maxKeys: 3 }),
        },
        { weight: 1, arbitrary: hostileValue(2) },
      ),
    },
    { requiredKeys: ['apiVersion', 'kind', 'name', 'links'] },
  );
}

/** Microseconds as a duration the way the parser takes them (whole microseconds, in us). */
const micros = (us: number) => `${us}us`;

/** A valid profile whose every number sits at or near the edge of its documented range (RANGES): the inputs
 * the validator accepts and the schedulers must still handle without an infinite or out-of-range time. */
export function extremeProfile(): fc.Arbitrary<Record<string, unknown>> {
  const maxUs = RANGES.durationSeconds.max * 1e6;
  const durationUs = fc.oneof(fc.constantFrom(0, 1, 2, maxUs - 1, maxUs), fc.integer({ min: 0, max: maxUs }));
  const rate = fc.oneof(
    fc.constantFrom(
      RANGES.rateBitsPerSecond.min,
      RANGES.rateBitsPerSecond.min + 1,
      RANGES.rateBitsPerSecond.max,
    ),
    fc.integer({ min: RANGES.rateBitsPerSecond.min, max: 1e12 }),
  );
  const loss = fc.oneof(
    fc.constantFrom(0, 1e-6, 0.5, 1 - 1e-6),
    fc.integer({ min: 0, max: 999_999 }).map((m) => m / 1e6),
  );
  const impairmentDoc = fc
    .tuple(
      durationUs,
      fc.double({ min: 0, max: 1, noNaN: true }),
      rate,
      loss,
      fc.constantFrom('normal', 'uniform', 'pareto', 'paretonormal'),
      fc.boolean(),
    )
    .map(([latency, jitterShare, bits, lossValue, distribution, limited]) => ({
      latency: micros(latency),
      jitter: micros(Math.floor(latency * jitterShare)),
      distribution,
      loss: lossValue,
      ...(limited ? { rate: `${bits}bit` } : {}),
    }));
  const cores = fc.oneof(
    fc.constantFrom(CORES_RANGE.min, CORES_RANGE.max, 1),
    fc.integer({ min: 100, max: 64_000 }).map((m) => m / 1000),
  );
  return fc
    .tuple(impairmentDoc, impairmentDoc, impairmentDoc, cores, cores)
    .map(([ueEdge, edgeCloud, reverse, edgeCores, cloudCores]) => ({
      apiVersion: API_VERSION,
      kind: KIND,
      name: 'extreme',
      sites: { ue: {}, edge: { cores: edgeCores }, cloud: { cores: cloudCores } },
      links: { 'ue-edge': { ...ueEdge, directions: { 'edge->ue': reverse } }, 'edge-cloud': edgeCloud },
    }));
}

/** Profile text as a file, a ConfigMap or an admin PUT would carry it. */
export function profileText(): fc.Arbitrary<string> {
  const presets = Object.values(PRESETS).map((p) => stringify(p));
  return fc.oneof(
    { weight: 6, arbitrary: profileDocument().map((d) => stringify(d)) },
    { weight: 1, arbitrary: extremeProfile().map((d) => stringify(d)) },
    { weight: 2, arbitrary: profileDocument().map((d) => JSON.stringify(d)) },
    { weight: 2, arbitrary: hostileYaml() },
    { weight: 2, arbitrary: fc.constantFrom(...presets).chain((text) => mutated(text)) },
  );
}
