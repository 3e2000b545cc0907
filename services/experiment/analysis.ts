// From a result set's raw files to its numbers. Every figure starts from the requests each run kept: per run and
// site, the latency percentiles of the measured phase's requests (a failure counted at the request timeout); then
// per condition and site the median of those over the repetitions, with its distribution-free interval; the edge's advantage (cloud − edge)
// and reduction (1 − edge/cloud) computed within each run (both sites share its moment of the host) and
// summarised the same way; the profile's prediction beside them; and a crossover along every numeric factor.
import path from 'node:path';
import { REQUEST_TIMEOUT_MS } from '../loadgen/http.ts';
import { parseDuration, parseLoss, parseRate } from '../topology/index.ts';
import { type Crossover, findCrossover } from './crossover.ts';
import { labelOf, type Plan, type PlannedCondition } from './design.ts';
import type { RunRecord } from './execute.ts';
import { reduction } from './predict.ts';
import type { ResolvedCondition } from './resolve.ts';
import { type ExperimentSpec, MEASURED_SITES, type MeasuredSite, type SettingValue } from './spec.ts';
import {
  type QuantileEstimate,
  quantileInterval,
  quantileSorted,
  sortNumbers,
  valuesNeededOneSided,
  valuesNeededTwoSided,
} from './stats.ts';
import { completedRunIds, readJson, readRequests, runDir, type StoredRequest } from './store.ts';

export const PERCENTILES = [
  { name: 'p50', q: 0.5 },
  { name: 'p90', q: 0.9 },
  { name: 'p99', q: 0.99 },
] as const;
export type PercentileName = (typeof PERCENTILES)[number]['name'];

/** What plan.json holds: the spec as validated, each condition resolved, the run order. */
export interface StoredPlan {
  specHash: string;
  spec: ExperimentSpec;
  conditions: ResolvedCondition[];
  plan: Plan;
}

export interface RunSiteStats {
  run: string;
  condition: string;
  repetition: number;
  site: MeasuredSite;
  requests: number;
  ok: number;
  errors: number;
  dropped: number;
  newConnections: number;
  meanMs: number;
  percentiles: Record<PercentileName, number>;
  predictedMs: number;
  calibrationRttMs: number;
  calibrationPredictedRttMs: number;
  drifted: boolean;
}

/** Per-run statistics of one site's measured requests. Pure. */
export function runSiteStats(
  requests: readonly StoredRequest[],
  run: RunRecord,
  site: MeasuredSite,
): RunSiteStats {
  const measured = requests.filter((r) => r.site === site && r.phase === 'measure');
  const ok = measured.filter((r) => r.status >= 200 && r.status < 300 && Number.isFinite(r.latencyMs));
  const okLatencies = ok.map((r) => r.latencyMs);
  // A failed request (an error status, a timeout, one the client could not send) counts at the timeout: to the user
  // it was no answer in time. Leaving failures out would let a saturated site that turns work away with fast 503s
  // look faster than one that serves everything.
  const sorted = sortNumbers([
    ...okLatencies,
    ...Array.from({ length: measured.length - ok.length }, () => REQUEST_TIMEOUT_MS),
  ]);
  const rec = run.sites.find((s) => s.site === site);
  return {
    run: run.id,
    condition: run.condition,
    repetition: run.repetition,
    site,
    requests: measured.length,
    ok: ok.length,
    errors: measured.length - ok.length,
    dropped: measured.filter((r) => r.error === 'dropped').length,
    newConnections: ok.filter((r) => r.connection === 'new').length,
    meanMs: okLatencies.length ? okLatencies.reduce((a, b) => a + b, 0) / okLatencies.length : Number.NaN,
    percentiles: Object.fromEntries(PERCENTILES.map((p) => [p.name, quantileSorted(sorted, p.q)])) as Record<
      PercentileName,
      number
    >,
    predictedMs: rec?.predictedMs ?? Number.NaN,
    calibrationRttMs: rec?.calibration.measuredRttMs ?? Number.NaN,
    calibrationPredictedRttMs: rec?.calibration.predictedRttMs ?? Number.NaN,
    drifted: rec?.calibration.drifted ?? false,
  };
}

export interface SiteSummary {
  runs: number;
  percentiles: Record<PercentileName, QuantileEstimate>;
  /** Median over the runs of the prediction (the idle service time is measured per run). */
  predictedMs: number;
  errorRatio: number;
  /** Requests per run, the fewest: a percentile within a run needs a few (p99 at 95%: 299). */
  minRequestsPerRun: number;
}

export interface ConditionSummary {
  id: string;
  label: string;
  values: Record<string, SettingValue>;
  sites: Record<MeasuredSite, SiteSummary>;
  /** cloud − edge, ms: positive when the edge is faster. */
  advantage: Record<PercentileName, QuantileEstimate>;
  /** 1 − edge/cloud (0.6 = 60% less). */
  reduction: Record<PercentileName, QuantileEstimate>;
  predictedAdvantageMs: number;
  predictedReduction: number;
  runsDrifted: number;
  runsExcluded: number;
}

export interface CrossoverSummary {
  factor: string;
  /** The other factors' values this curve holds fixed. */
  others: string;
  percentile: PercentileName;
  result: Crossover;
  points: Array<{ x: number; estimate: number; lower: number; upper: number; condition: string }>;
}

export interface Summary {
  experiment: string;
  description: string;
  resultDir: string;
  confidence: number;
  runs: { planned: number; done: number; drifted: number; excluded: number };
  needed: { repetitions: number; requestsPerRun: Record<PercentileName, number> };
  conditions: ConditionSummary[];
  crossovers: CrossoverSummary[];
  warnings: string[];
}

/** A level as a number, for crossovers and plots: `20ms` → 20 (ms), `1%` → 1, `100Mbit` → 100, `640x480` → pixels. */
export function numericLevel(value: SettingValue): { x: number; unit: string } | null {
  if (typeof value === 'number') return { x: value, unit: '' };
  const d = parseDuration(value);
  if (d.ok) return { x: d.value * 1000, unit: 'ms' };
  if (/%$/.test(value)) {
    const l = parseLoss(value);
    if (l.ok) return { x: l.value * 100, unit: '%' };
  }
  const r = parseRate(value);
  if (r.ok) return { x: r.value / 1e6, unit: 'Mbit/s' };
  const img = /^(\d+)x(\d+)$/.exec(value);
  if (img) return { x: Number(img[1]) * Number(img[2]), unit: 'pixels' };
  return null;
}

function perPercentile(values: (p: PercentileName) => number[], confidence: number) {
  return Object.fromEntries(
    PERCENTILES.map((p) => [p.name, quantileInterval(values(p.name), 0.5, confidence)]),
  ) as Record<PercentileName, QuantileEstimate>;
}

/** The summary from per-run statistics. Pure: the tests feed it synthetic runs. */
export function summarise(o: {
  spec: ExperimentSpec;
  conditions: readonly (PlannedCondition & { values: Record<string, SettingValue> })[];
  planned: number;
  stats: readonly RunSiteStats[];
  resultDir: string;
}): Summary {
  const { spec } = o;
  const C = spec.confidence;
  const warnings: string[] = [];
  const exclude = spec.calibration.onDrift === 'exclude';
  const conditions: ConditionSummary[] = [];
  let drifted = 0;
  let excluded = 0;
  const runIds = new Set(o.stats.map((s) => s.run));
  for (const c of o.conditions) {
    const all = o.stats.filter((s) => s.condition === c.id);
    const driftedRuns = new Set(all.filter((s) => s.drifted).map((s) => s.run));
    drifted += driftedRuns.size;
    const used = exclude ? all.filter((s) => !driftedRuns.has(s.run)) : all;
    if (exclude) excluded += driftedRuns.size;
    const byRun = new Map<string, Partial<Record<MeasuredSite, RunSiteStats>>>();
    for (const s of used) byRun.set(s.run, { ...byRun.get(s.run), [s.site]: s });
    const pairs = [...byRun.values()].filter(
      (p): p is Record<MeasuredSite, RunSiteStats> => !!p.edge && !!p.cloud,
    );
    const site = (name: MeasuredSite): SiteSummary => {
      const xs = used.filter((s) => s.site === name);
      const requests = xs.reduce((a, s) => a + s.requests, 0);
      return {
        runs: xs.length,
        percentiles: perPercentile((p) => xs.map((s) => s.percentiles[p]).filter(Number.isFinite), C),
        predictedMs: quantileSorted(sortNumbers(xs.map((s) => s.predictedMs).filter(Number.isFinite)), 0.5),
        errorRatio: requests ? xs.reduce((a, s) => a + s.errors, 0) / requests : Number.NaN,
        minRequestsPerRun: xs.length ? Math.min(...xs.map((s) => s.requests)) : 0,
      };
    };
    const sites = { edge: site('edge'), cloud: site('cloud') };
    const predEdge = sites.edge.predictedMs;
    const predCloud = sites.cloud.predictedMs;
    conditions.push({
      id: c.id,
      label: c.label,
      values: c.values,
      sites,
      advantage: perPercentile(
        (p) => pairs.map((r) => r.cloud.percentiles[p] - r.edge.percentiles[p]).filter(Number.isFinite),
        C,
      ),
      reduction: perPercentile(
        (p) =>
          pairs.map((r) => reduction(r.edge.percentiles[p], r.cloud.percentiles[p])).filter(Number.isFinite),
        C,
      ),
      predictedAdvantageMs: predCloud - predEdge,
      predictedReduction: reduction(predEdge, predCloud),
      runsDrifted: driftedRuns.size,
      runsExcluded: exclude ? driftedRuns.size : 0,
    });
  }

  const needed = {
    repetitions: valuesNeededTwoSided(0.5, C),
    requestsPerRun: Object.fromEntries(
      PERCENTILES.map((p) => [p.name, valuesNeededOneSided(p.q, C)]),
    ) as Record<PercentileName, number>,
  };
  const fewest = Math.min(...conditions.map((c) => Math.min(c.sites.edge.runs, c.sites.cloud.runs)));
  if (conditions.length > 0 && fewest < needed.repetitions) {
    const reached =
      conditions.find((c) => c.sites.edge.runs === fewest)?.sites.edge.percentiles.p50.coverage ?? 0;
    warnings.push(
      `${fewest} repetition${fewest === 1 ? '' : 's'} per condition: a ${Math.round(C * 100)}% interval on the median over runs needs ${needed.repetitions}; the intervals shown are [min, max] of the runs and hold the median with ${Math.round(reached * 1000) / 10}% confidence`,
    );
  }
  for (const p of PERCENTILES) {
    const short = conditions.filter(
      (c) =>
        Math.min(c.sites.edge.minRequestsPerRun, c.sites.cloud.minRequestsPerRun) <
        needed.requestsPerRun[p.name],
    );
    if (short.length > 0)
      warnings.push(
        `${p.name} within a run needs at least ${needed.requestsPerRun[p.name]} requests for a ${Math.round(C * 100)}% bound; ${short.length} condition${short.length === 1 ? ' has' : 's have'} runs with fewer (raise rate or duration)`,
      );
  }
  if (drifted > 0)
    warnings.push(
      `${drifted} run${drifted === 1 ? '' : 's'} drifted: the links' round trip before the run strayed more than ${Math.round(spec.calibration.tolerance * 100)}% (or 1 ms) from the profile${exclude ? '; left out of the analysis' : '; kept and marked (calibration.onDrift: exclude leaves them out)'}`,
    );
  if (runIds.size < o.planned)
    warnings.push(`${runIds.size} of ${o.planned} planned runs are done: the figures cover those only`);

  return {
    experiment: spec.name,
    description: spec.description,
    resultDir: o.resultDir,
    confidence: C,
    runs: { planned: o.planned, done: runIds.size, drifted, excluded },
    needed,
    conditions,
    crossovers: crossovers(spec, conditions),
    warnings,
  };
}

/** For every factor whose levels are numbers: one curve per combination of the other factors' values. */
export function crossovers(
  spec: ExperimentSpec,
  conditions: readonly ConditionSummary[],
): CrossoverSummary[] {
  const out: CrossoverSummary[] = [];
  const names = spec.conditions
    ? [...new Set(spec.conditions.flatMap((c) => Object.keys(c)))]
    : spec.factors.map((f) => f.name);
  for (const factor of names) {
    const withX = conditions
      .map((c) => ({
        c,
        n: c.values[factor] === undefined ? null : numericLevel(c.values[factor] as SettingValue),
      }))
      .filter((x): x is { c: ConditionSummary; n: { x: number; unit: string } } => x.n !== null);
    if (new Set(withX.map((x) => x.n.x)).size < 2) continue;
    const groups = new Map<string, typeof withX>();
    for (const x of withX) {
      const others = labelOf(Object.fromEntries(Object.entries(x.c.values).filter(([k]) => k !== factor)));
      groups.set(others, [...(groups.get(others) ?? []), x]);
    }
    for (const [others, xs] of groups) {
      if (xs.length < 2) continue;
      const points = xs.map(({ c, n }) => ({ x: n.x, condition: c.id, ...pick(c.advantage.p50) }));
      out.push({ factor, others, percentile: 'p50', points, result: findCrossover(points) });
    }
  }
  return out;
}

function pick(e: QuantileEstimate) {
  return { estimate: e.estimate, lower: e.lower, upper: e.upper };
}

/** Points of an empirical CDF, evenly spaced in probability: enough to draw it, few enough to embed. */
export function cdfPoints(sorted: ArrayLike<number>, points = 200): Array<{ q: number; ms: number }> {
  if (sorted.length === 0) return [];
  return Array.from({ length: points }, (_, k) => {
    const q = (k + 0.5) / points;
    return { q, ms: quantileSorted(sorted, q) };
  });
}

export interface Analysis {
  summary: Summary;
  rows: RunSiteStats[];
  stored: StoredPlan;
  records: RunRecord[];
  cdfs: Array<{ condition: string; site: MeasuredSite; points: Array<{ q: number; ms: number }> }>;
}

/** Reads a result set and computes its summary, the per-run rows (runs.csv) and the pooled CDFs. */
export async function analyse(dir: string): Promise<Analysis> {
  const stored = await readJson<StoredPlan>(path.join(dir, 'plan.json'));
  const done = await completedRunIds(dir);
  const rows: RunSiteStats[] = [];
  const records: RunRecord[] = [];
  const pooled = new Map<string, number[]>();
  for (const run of stored.plan.runs) {
    if (!done.has(run.id)) continue;
    const record = await readJson<RunRecord>(path.join(runDir(dir, run.id), 'run.json'));
    const requests = await readRequests(path.join(runDir(dir, run.id), 'requests.csv.gz'));
    records.push(record);
    for (const site of MEASURED_SITES) rows.push(runSiteStats(requests, record, site));
    for (const r of requests) {
      if (r.phase !== 'measure' || r.status < 200 || r.status >= 300 || !Number.isFinite(r.latencyMs))
        continue;
      const key = `${run.condition}|${r.site}`;
      const xs = pooled.get(key) ?? [];
      if (xs.length === 0) pooled.set(key, xs);
      xs.push(r.latencyMs);
    }
  }
  const cdfs = [...pooled].map(([key, xs]) => {
    const [condition, site] = key.split('|') as [string, MeasuredSite];
    return { condition, site, points: cdfPoints(sortNumbers(xs)) };
  });
  const summary = summarise({
    spec: stored.spec,
    conditions: stored.conditions,
    planned: stored.plan.runs.length,
    stats: rows,
    resultDir: dir,
  });
  return { summary, rows, stored, records, cdfs };
}
