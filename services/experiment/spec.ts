// What an experiment spec says, its defaults and the range of every number in it. The validator (validate.ts),
// the JSON Schema (schema.ts) and the docs (experiments/README.md) read these tables, so a range is written once.

export const API_VERSION = 'mec-testbed.dev/v1alpha1';
export const KIND = 'Experiment';

export const TARGETS = ['dev', 'kind'] as const;
export type Target = (typeof TARGETS)[number];

export const WORKLOADS = ['echo', 'inspect', 'media-hit', 'media-miss'] as const;
export type Workload = (typeof WORKLOADS)[number];

export const CONNECTIONS = ['reused', 'new'] as const;
export type Connection = (typeof CONNECTIONS)[number];

export const ON_DRIFT = ['flag', 'exclude'] as const;
export type OnDrift = (typeof ON_DRIFT)[number];

/** The sites a run measures, in the order the analysis reports them: the edge first, then the cloud it is compared with. */
export const MEASURED_SITES = ['edge', 'cloud'] as const;
export type MeasuredSite = (typeof MEASURED_SITES)[number];

/** A range with its unit, for messages and the schema. `integer` numbers take whole values only. */
export interface NumberRange {
  min: number;
  max: number;
  integer: boolean;
  unit: string;
  what: string;
}

/**
 * Settings a run is made of. Each can be fixed for the whole experiment or be a factor with levels. Profile paths
 * (`links.<a-b>.<field>`, `links.<a-b>.directions.<a->b>.<field>`, `sites.<site>.cores`) are settings too; the
 * topology model validates what they produce.
 */
export const SETTING_RANGES = {
  rate: {
    min: 0.1,
    max: 2000,
    integer: false,
    unit: 'requests/s',
    what: 'offered load per site (open model)',
  },
  echoBytes: { min: 0, max: 1_048_576, integer: true, unit: 'bytes', what: "echo's response size" },
  maxInFlight: {
    min: 1,
    max: 1000,
    integer: true,
    unit: 'requests',
    what: 'requests outstanding per site before a due one is dropped (counted, never queued)',
  },
} as const satisfies Record<string, NumberRange>;

/** The inspect image's sides, as `WIDTHxHEIGHT`; the pixel bound is the services' default INSPECT_MAX_PIXELS. */
export const IMAGE_SIDE = { min: 16, max: 4096 } as const;
export const IMAGE_MAX_PIXELS = 8_388_608;
export const IMAGE_SIZE = /^(\d{1,4})x(\d{1,4})$/;

export const TOP_RANGES = {
  repetitions: { min: 1, max: 1000, integer: true, unit: 'runs', what: 'runs of every condition' },
  seed: { min: 0, max: 4_294_967_295, integer: true, unit: '', what: 'seed of the run order' },
  confidence: { min: 0.5, max: 0.999, integer: false, unit: '', what: 'confidence of every interval' },
} as const satisfies Record<string, NumberRange>;

/** How a spec writes its timings: `500ms`, `8s`, `2.5s`, `5m` (a link's delays use the profile's own syntax). */
export const SPEC_DURATION = /^\s*(\d{1,9}(?:\.\d{1,6})?)\s*(ms|s|m)\s*$/;
const SPEC_DURATION_FACTOR: Record<string, number> = { ms: 1e-3, s: 1, m: 60 };

/** A spec's timing in seconds, or null when it is not one. */
export function parseSpecDuration(input: unknown): number | null {
  const m = typeof input === 'string' ? SPEC_DURATION.exec(input) : null;
  return m?.[1] && m[2] ? Number(m[1]) * (SPEC_DURATION_FACTOR[m[2]] as number) : null;
}

export const DURATION_RANGES = {
  duration: { min: 1, max: 3600, integer: false, unit: 's', what: 'measured time per site and run' },
  warmup: { min: 0, max: 600, integer: false, unit: 's', what: 'unmeasured load per site before it' },
  pause: { min: 0, max: 600, integer: false, unit: 's', what: 'idle time before each run' },
} as const satisfies Record<string, NumberRange>;

export const CALIBRATION_RANGES = {
  requests: {
    min: 0,
    max: 1000,
    integer: true,
    unit: 'requests',
    what: 'echo requests per site and port before each run (0: no calibration)',
  },
  tolerance: {
    min: 0.01,
    max: 1,
    integer: false,
    unit: '',
    what: 'how far the measured round trip may stray from the profile (fraction; 1 ms is always allowed)',
  },
} as const satisfies Record<string, NumberRange>;

/** The absolute floor of the drift check: below a millisecond the host's own scheduling dominates. */
export const DRIFT_FLOOR_SECONDS = 0.001;

/** How many runs one experiment may plan: a guard against a factorial that would run for weeks. */
export const MAX_RUNS = 10_000;

/** A value a setting takes in one condition. Profile paths take the profile's own units ("20ms", "1%", 4). */
export type SettingValue = string | number;

/** One condition: a value for every setting that varies or is fixed, in the spec's order. */
export type Condition = Record<string, SettingValue>;

export interface Calibration {
  requests: number;
  tolerance: number;
  onDrift: OnDrift;
}

export interface ExperimentSpec {
  name: string;
  description: string;
  target: Target;
  /** Preset name or profile file (resolved against the spec's folder). */
  profile: string;
  /** Settings every run shares (including profile paths). */
  fixed: Condition;
  /** Factor name → levels, in the spec's order; empty when `conditions` lists the design. */
  factors: Array<{ name: string; levels: SettingValue[] }>;
  /** A listed design, when given instead of a full factorial. */
  conditions: Condition[] | null;
  repetitions: number;
  durationSeconds: number;
  warmupSeconds: number;
  pauseSeconds: number;
  shuffle: boolean;
  seed: number;
  confidence: number;
  calibration: Calibration;
}

/** Settings that are not profile paths, with their defaults (what a run uses when the spec says nothing). */
export const SETTING_DEFAULTS = {
  rate: 20,
  workload: 'echo' as Workload,
  connection: 'reused' as Connection,
  echoBytes: 64,
  imageSize: '320x240',
  maxInFlight: 256,
};
export type SettingName = keyof typeof SETTING_DEFAULTS | 'profile';
export const SETTING_NAMES: readonly string[] = ['profile', ...Object.keys(SETTING_DEFAULTS)];

export const DEFAULTS = {
  target: 'dev' as Target,
  profile: '5g-mec',
  repetitions: 5,
  duration: '10s',
  warmup: '2s',
  pause: '1s',
  shuffle: true,
  seed: 1,
  confidence: 0.95,
  calibration: { requests: 20, tolerance: 0.15, onDrift: 'flag' as OnDrift },
};

/** Profile paths a factor may name: link fields (any direction) and a site's cores. */
export const PROFILE_PATH =
  /^(links\.[a-z][a-z0-9]*-[a-z][a-z0-9]*(\.directions\.[a-z][a-z0-9]*->[a-z][a-z0-9]*)?\.(latency|jitter|distribution|loss|rate)|sites\.[a-z][a-z0-9]*\.cores)$/;

export const TOP_KEYS = [
  '$schema',
  'apiVersion',
  'kind',
  'name',
  'description',
  'target',
  'profile',
  'fixed',
  'factors',
  'conditions',
  'repetitions',
  'duration',
  'warmup',
  'pause',
  'order',
  'confidence',
  'calibration',
];
export const ORDER_KEYS = ['shuffle', 'seed'];
export const CALIBRATION_KEYS = ['requests', 'tolerance', 'onDrift'];

/** The settings of a condition with every default filled in: what a run actually does. */
export interface RunSettings {
  profile: string;
  rate: number;
  workload: Workload;
  connection: Connection;
  echoBytes: number;
  imageWidth: number;
  imageHeight: number;
  maxInFlight: number;
  /** Profile paths and their values, applied on top of the profile. */
  overrides: Array<{ path: string; value: SettingValue }>;
}

export function runSettings(spec: ExperimentSpec, condition: Condition): RunSettings {
  const all: Condition = { ...spec.fixed, ...condition };
  const get = <K extends keyof typeof SETTING_DEFAULTS>(k: K) =>
    (all[k] ?? SETTING_DEFAULTS[k]) as (typeof SETTING_DEFAULTS)[K];
  const [w, h] = String(get('imageSize')).split('x').map(Number) as [number, number];
  return {
    profile: String(all.profile ?? spec.profile),
    rate: Number(get('rate')),
    workload: get('workload'),
    connection: get('connection'),
    echoBytes: Number(get('echoBytes')),
    imageWidth: w,
    imageHeight: h,
    maxInFlight: Number(get('maxInFlight')),
    overrides: Object.entries(all)
      .filter(([k]) => PROFILE_PATH.test(k))
      .map(([path, value]) => ({ path, value })),
  };
}
