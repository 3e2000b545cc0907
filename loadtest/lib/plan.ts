// The load plan, as plain code (no k6 and no Node imports) so Node tests can check it and k6 can run it:
// the project's own environment variables, the open-model scenarios and the thresholds derived from the
// topology model's predictions (lib/predictions.gen.ts).

export const WORKLOADS = ['echo', 'inspect', 'media'] as const;
export type Workload = (typeof WORKLOADS)[number];
export const SITES = ['edge', 'cloud'] as const;
export type Site = (typeof SITES)[number];

export interface LoadConfig {
  /** Arrival rate per site (requests/s); both sites get the same. */
  rate: number;
  /** The same rate exactly, in thousandths of a request per second (MEC_RATE has at most three decimals). */
  rateMilli: number;
  /** k6 duration string: `30s`, `2m`, `1m30s`. */
  duration: string;
  durationSeconds: number;
  /** `constant` (constant-arrival-rate) or `ramp` (ramping-arrival-rate up, hold, down). */
  scenario: 'constant' | 'ramp';
  edgeUrl: string;
  cloudUrl: string;
  /** The link profile whose predictions the thresholds encode. */
  profile: string;
  /** The prediction for that profile when given whole (MEC_PREDICTION), e.g. for a profile file. */
  prediction?: Prediction;
  maxVUs: number;
  /** Where handleSummary writes summary.json and summary.txt. */
  summaryDir: string;
}

export const ENV_DOC: Record<string, string> = {
  MEC_RATE: 'requests per second per site, at most three decimals (default 20)',
  MEC_DURATION: 'how long to hold the rate, e.g. 30s, 2m, 1m30s (default 1m)',
  MEC_SCENARIO: 'constant | ramp (default constant)',
  MEC_EDGE_URL: 'edge service base URL (default http://edge.mec-testbed.svc:8080)',
  MEC_CLOUD_URL: 'cloud service base URL (default http://cloud.mec-testbed.svc:8080)',
  MEC_PROFILE:
    'preset whose prediction the thresholds encode (default 5g-mec; make load sets the profile in force)',
  MEC_PREDICTION:
    'the prediction itself as JSON ({"profile","roundTripSeconds":{"edge","cloud"},"predictedReduction"}); wins over MEC_PROFILE',
  MEC_MAX_VUS: 'ceiling on VUs k6 may start to keep the rate (default 4 x MEC_RATE, at least 20)',
  MEC_SUMMARY_DIR: 'directory for summary.json and summary.txt (default .)',
};

export class LoadConfigError extends Error {}

function bad(variable: string, value: string, allowed: string): never {
  throw new LoadConfigError(
    `${variable}=${JSON.stringify(value)} is not valid: ${allowed} (${ENV_DOC[variable]})`,
  );
}

/** `1m30s` → 90. Accepts h, m, s, ms parts as k6 does. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/.exec(text.trim());
  if (!m || text.trim() === '') return undefined;
  const [, h, min, s, ms] = m;
  const total = Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0) + Number(ms ?? 0) / 1000;
  return total > 0 ? total : undefined;
}

function url(variable: string, value: string): string {
  if (!/^https?:\/\/[^\s/]+(\/[^\s]*)?$/.test(value))
    bad(variable, value, 'an http(s) URL such as http://127.0.0.1:8080');
  return value.replace(/\/+$/, '');
}

/** `5.5` → 5500: a decimal with at most three decimals, read as an exact integer (no float rounding). */
export function parseRateMilli(text: string): number | undefined {
  const m = /^(\d+)(?:\.(\d{1,3}))?$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * 1000 + Number((m[2] ?? '').padEnd(3, '0'));
}

function parsePrediction(text: string): Prediction {
  const allowed =
    'JSON such as {"profile":"my-lab","roundTripSeconds":{"edge":0.012,"cloud":0.03},"predictedReduction":0.6}';
  let p: Partial<Prediction> | undefined;
  try {
    p = JSON.parse(text) as Partial<Prediction>;
  } catch {
    bad('MEC_PREDICTION', text, allowed);
  }
  const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;
  if (
    typeof p?.profile !== 'string' ||
    p.profile === '' ||
    !positive(p.roundTripSeconds?.edge) ||
    !positive(p.roundTripSeconds?.cloud) ||
    typeof p.predictedReduction !== 'number' ||
    !Number.isFinite(p.predictedReduction)
  )
    bad('MEC_PREDICTION', text, allowed);
  return p as Prediction;
}

/** Reads and validates the MEC_* variables; every mistake names the variable and what is allowed. */
export function loadConfig(env: Record<string, string | undefined>): LoadConfig {
  const rateText = env.MEC_RATE ?? '20';
  const rateMilli = parseRateMilli(rateText);
  if (rateMilli === undefined || rateMilli < 1 || rateMilli > 10_000_000)
    bad(
      'MEC_RATE',
      rateText,
      'a number of requests per second from 0.001 to 10000, with at most three decimals',
    );
  const rate = rateMilli / 1000;
  const duration = env.MEC_DURATION ?? '1m';
  const durationSeconds = parseDurationSeconds(duration);
  if (durationSeconds === undefined) bad('MEC_DURATION', duration, 'a k6 duration such as 30s, 2m or 1m30s');
  const scenario = env.MEC_SCENARIO ?? 'constant';
  if (scenario !== 'constant' && scenario !== 'ramp') bad('MEC_SCENARIO', scenario, 'constant or ramp');
  const maxText = env.MEC_MAX_VUS ?? String(Math.max(20, Math.ceil(rate * 4)));
  const maxVUs = Number(maxText);
  if (!/^\d+$/.test(maxText) || maxVUs < 1) bad('MEC_MAX_VUS', maxText, 'a whole number of VUs, at least 1');
  const prediction = env.MEC_PREDICTION ? parsePrediction(env.MEC_PREDICTION) : undefined;
  return {
    rate,
    rateMilli,
    duration,
    durationSeconds,
    scenario,
    edgeUrl: url('MEC_EDGE_URL', env.MEC_EDGE_URL ?? 'http://edge.mec-testbed.svc:8080'),
    cloudUrl: url('MEC_CLOUD_URL', env.MEC_CLOUD_URL ?? 'http://cloud.mec-testbed.svc:8080'),
    profile: prediction?.profile ?? env.MEC_PROFILE ?? '5g-mec',
    ...(prediction ? { prediction } : {}),
    maxVUs,
    summaryDir: (env.MEC_SUMMARY_DIR ?? '.').replace(/\/+$/, '') || '.',
  };
}

/** The subset of k6's scenario options we produce (k6/options types are not imported: this file is plain TS). */
export type ArrivalScenario =
  | {
      executor: 'constant-arrival-rate';
      rate: number;
      timeUnit: string;
      duration: string;
      preAllocatedVUs: number;
      maxVUs: number;
      exec: string;
      tags: Record<string, string>;
    }
  | {
      executor: 'ramping-arrival-rate';
      startRate: number;
      timeUnit: string;
      stages: Array<{ target: number; duration: string }>;
      preAllocatedVUs: number;
      maxVUs: number;
      exec: string;
      tags: Record<string, string>;
    };

/** One share of the load: a workload and the percentage of MEC_RATE it gets (100 for single-workload scripts). */
export interface Share {
  workload: Workload;
  /** A whole percentage, so the share's rate stays an exact fraction of MEC_RATE. */
  percent: number;
}

/** The mixed scenario's shares: mostly small interactive requests, some video, a little heavy compute. */
export const MIXED_SHARES: Share[] = [
  { workload: 'echo', percent: 60 },
  { workload: 'media', percent: 30 },
  { workload: 'inspect', percent: 10 },
];

/** An arrival rate as k6 takes it: a whole number of iterations per `timeUnitSeconds` (k6 reads rates as integers). */
export interface ArrivalRate {
  iterations: number;
  timeUnitSeconds: number;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * `percent`% of `rateMilli`/1000 requests/s, exactly, in lowest terms: 5.5/s → 11 per 2 s, 60% of 5/s → 3 per
 * 1 s, 10% of 5/s → 1 per 2 s. Every number stays a safe integer (rateMilli ≤ 10^7, percent ≤ 100).
 */
export function arrivalRate(rateMilli: number, percent: number): ArrivalRate {
  const numerator = rateMilli * percent;
  const denominator = 1000 * 100;
  const d = gcd(numerator, denominator);
  return { iterations: numerator / d, timeUnitSeconds: denominator / d };
}

/**
 * Open-model scenarios: for each share, one scenario per site with the same arrival rate, so a slow site gets
 * as many requests as a fast one (a closed model would send it fewer and hide its slowness). Tags site and
 * workload go on every metric the scenario emits; `exec` names the exported function `<workload>_<site>`.
 */
export function scenarios(shares: Share[], cfg: LoadConfig): Record<string, ArrivalScenario> {
  const out: Record<string, ArrivalScenario> = {};
  for (const { workload, percent } of shares) {
    const { iterations, timeUnitSeconds } = arrivalRate(cfg.rateMilli, percent);
    const perSecond = iterations / timeUnitSeconds;
    // Enough VUs for the rate at a 100 ms response; k6 starts more (up to maxVUs) if responses are slower.
    const preAllocatedVUs = Math.min(cfg.maxVUs, Math.max(2, Math.ceil(perSecond * 0.1)));
    for (const site of SITES) {
      const common = {
        timeUnit: `${timeUnitSeconds}s`,
        preAllocatedVUs,
        maxVUs: cfg.maxVUs,
        exec: `${workload}_${site}`,
        tags: { site, workload },
      };
      out[`${workload}_${site}`] =
        cfg.scenario === 'constant'
          ? { executor: 'constant-arrival-rate', rate: iterations, duration: cfg.duration, ...common }
          : {
              executor: 'ramping-arrival-rate',
              startRate: 0,
              stages: rampStages(iterations, cfg.durationSeconds),
              ...common,
            };
    }
  }
  return out;
}

/** Up in the first quarter, hold for half, down in the last quarter; `rate` is per the scenario's timeUnit. */
export function rampStages(rate: number, seconds: number): Array<{ target: number; duration: string }> {
  const quarter = Math.max(1, Math.round(seconds / 4));
  const hold = Math.max(1, Math.round(seconds) - 2 * quarter);
  return [
    { target: rate, duration: `${quarter}s` },
    { target: rate, duration: `${hold}s` },
    { target: 0, duration: `${quarter}s` },
  ];
}

export interface Prediction {
  profile: string;
  roundTripSeconds: { edge: number; cloud: number };
  predictedReduction: number;
}

/** Error budget per site and workload: failed requests (k6's http_req_failed) below 1%. */
export const ERROR_BUDGET = 0.01;

/**
 * Thresholds. Echo encodes the profile's expected outcome: on reused connections a request costs one round
 * trip, so the edge's median must fall below the midpoint between the two predicted round trips and the
 * cloud's above it — "edge faster than cloud" with the line drawn by the topology model. Every site/workload
 * pair also gets the error budget and always-true duration/count thresholds: k6 computes sub-metrics (and puts
 * them in the summary) only for the ones thresholds name.
 */
export function thresholds(shares: Share[], prediction: Prediction): Record<string, string[]> {
  const midpointMs = ((prediction.roundTripSeconds.edge + prediction.roundTripSeconds.cloud) / 2) * 1000;
  const midpoint = Math.round(midpointMs * 100) / 100;
  const out: Record<string, string[]> = {};
  for (const { workload } of shares) {
    for (const site of SITES) {
      const tags = `{site:${site},workload:${workload}}`;
      out[`http_req_failed${tags}`] = [`rate<${ERROR_BUDGET}`];
      out[`http_reqs${tags}`] = ['count>=0'];
      const duration = ['max>=0'];
      if (workload === 'echo') duration.push(site === 'edge' ? `p(50)<${midpoint}` : `p(50)>${midpoint}`);
      out[`http_req_duration${tags}`] = duration;
    }
  }
  return out;
}

/** Trend stats in the end-of-test summary: the percentiles the reduction table reports. */
export const SUMMARY_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'count'];

/** Only the tags the dashboards and summary group by: no `url` (one series per media segment otherwise). */
export const SYSTEM_TAGS = [
  'status',
  'method',
  'name',
  'scenario',
  'expected_response',
  'proto',
  'error_code',
  'check',
];
