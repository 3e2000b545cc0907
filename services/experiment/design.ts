// The design: which conditions an experiment has (a full factorial of its factors, or the listed ones), the runs
// (every condition × every repetition), the order they run in (shuffled with the spec's seed, so a slow drift of
// the host does not line up with a factor), and how long the plan takes. Pure.
import { seededRng } from '../topology/random.ts';
import { type Condition, type ExperimentSpec, MEASURED_SITES, type MeasuredSite } from './spec.ts';

export interface PlannedCondition {
  /** `c01`, `c02`, … in design order (the first factor varies slowest). */
  id: string;
  index: number;
  /** The values of the factors (or of the listed condition), without the fixed settings. */
  values: Condition;
  /** `rate=20, workload=echo`: how tables and plots name it. */
  label: string;
}

export interface PlannedRun {
  /** `c03-r2`: condition and repetition, stable across resumes. */
  id: string;
  condition: string;
  repetition: number;
  /** The order the sites are measured in within the run (shuffled too: neither always goes first). */
  sites: MeasuredSite[];
}

export interface Plan {
  conditions: PlannedCondition[];
  /** In the order they run. */
  runs: PlannedRun[];
}

/** The full factorial of the factors, or the listed conditions; a spec without either has one condition. */
export function conditionsOf(spec: ExperimentSpec): PlannedCondition[] {
  let values: Condition[];
  if (spec.conditions) values = spec.conditions;
  else {
    values = [{}];
    for (const f of spec.factors)
      values = values.flatMap((c) => f.levels.map((l) => ({ ...c, [f.name]: l })));
  }
  const width = Math.max(2, String(values.length).length);
  return values.map((v, i) => ({
    id: `c${String(i + 1).padStart(width, '0')}`,
    index: i,
    values: v,
    label: labelOf(v),
  }));
}

export function labelOf(values: Condition): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  return parts.length > 0 ? parts.join(', ') : 'all runs';
}

/** Every run, in the order it runs: repetition-major when not shuffled, a seeded Fisher–Yates shuffle otherwise. */
export function planRuns(spec: ExperimentSpec): Plan {
  const conditions = conditionsOf(spec);
  const rng = seededRng(spec.seed);
  const runs: PlannedRun[] = [];
  for (let r = 1; r <= spec.repetitions; r++)
    for (const c of conditions)
      runs.push({ id: `${c.id}-r${r}`, condition: c.id, repetition: r, sites: [...MEASURED_SITES] });
  if (spec.shuffle) {
    for (let i = runs.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [runs[i], runs[j]] = [runs[j] as PlannedRun, runs[i] as PlannedRun];
    }
    for (const run of runs) if (rng() < 0.5) run.sites.reverse();
  }
  return { conditions, runs };
}

/** Seconds one run takes: the pause, the calibration, then warm-up and measurement at each site, then the drain. */
export function runSeconds(spec: ExperimentSpec, calibrationSeconds: number, drainSeconds: number): number {
  return (
    spec.pauseSeconds +
    calibrationSeconds +
    MEASURED_SITES.length * (spec.warmupSeconds + spec.durationSeconds + drainSeconds)
  );
}

/** Formats seconds as people read a plan: `45 s`, `3 min 20 s`, `2 h 05 min`. */
export function formatSeconds(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${String(s % 60).padStart(2, '0')} s` : ''}`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
