// Runs an experiment on the `make dev` testbed: a new result set (or one to resume), the testbed started with the
// first run's profile and restarted only when a run needs other site compute, every pending run in plan order with
// a progress line and an estimate, then the analysis and the report. Ctrl-C (or SIGTERM) drops the run under way
// (set aside as runs/<id>.partial), keeps every finished one, writes the report from them and says how to resume.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { roundTripSeconds } from '../topology/index.ts';
import type { StoredPlan } from './analysis.ts';
import { formatSeconds, type PlannedRun, planRuns, runSeconds } from './design.ts';
import { choosePorts, type ExperimentTestbed, startExperimentTestbed, stopLeftover } from './devbed.ts';
import { executeRun } from './execute.ts';
import { codeVersion, hostInfo, versions } from './host.ts';
import type { LoadedExperiment } from './load.ts';
import { writeOutputs } from './outputs.ts';
import type { ResolvedCondition } from './resolve.ts';
import { MEASURED_SITES } from './spec.ts';
import {
  completedRunIds,
  ensureDir,
  exists,
  readJson,
  resultDirName,
  setAsidePartial,
  writeJsonAtomic,
} from './store.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** What starting the dev testbed costs (three Node processes), for the plan's estimate. */
const TESTBED_START_SECONDS = 4;

/** Seconds a condition's calibration takes: echo round trips on both ports of both sites, a few workload requests. */
export function calibrationSeconds(x: LoadedExperiment, c: ResolvedCondition): number {
  const n = x.spec.calibration.requests;
  const rtts = MEASURED_SITES.reduce((s, site) => s + roundTripSeconds(c.topology, 'ue', site), 0);
  return (n + 1) * (rtts + 2 * 0.001 * MEASURED_SITES.length) + 2 * 0.2;
}

/** The site compute a run needs; a change restarts the testbed (a service's worker pool is sized at start). */
export function computeKey(c: ResolvedCondition): string {
  return JSON.stringify((c.profileDocument as { sites?: unknown }).sites ?? null);
}

export function estimateSeconds(x: LoadedExperiment, runs: readonly PlannedRun[]): number {
  const byId = new Map(x.conditions.map((c) => [c.id, c]));
  let total = 0;
  let key: string | null = null;
  for (const run of runs) {
    const c = byId.get(run.condition) as ResolvedCondition;
    if (computeKey(c) !== key) total += TESTBED_START_SECONDS;
    key = computeKey(c);
    total += runSeconds(x.spec, calibrationSeconds(x, c), 0.2);
  }
  return total;
}

export function dryRunText(x: LoadedExperiment): string {
  const plan = planRuns(x.spec);
  const byId = new Map(x.conditions.map((c) => [c.id, c]));
  const lines = [
    `experiment ${x.spec.name} (target ${x.spec.target}): ${plan.conditions.length} condition${plan.conditions.length === 1 ? '' : 's'} × ${x.spec.repetitions} repetitions = ${plan.runs.length} runs, ${x.spec.shuffle ? `shuffled (seed ${x.spec.seed})` : 'in design order'}`,
    `each run: pause ${x.spec.pauseSeconds} s, calibration, then per site warm-up ${x.spec.warmupSeconds} s + ${x.spec.durationSeconds} s measured`,
    '',
    'conditions:',
    ...plan.conditions.map((c) => {
      const r = byId.get(c.id) as ResolvedCondition;
      const s = r.settings;
      const rtt = (site: string) => (roundTripSeconds(r.topology, 'ue', site) * 1000).toFixed(1);
      return `  ${c.id}  ${c.label.padEnd(40)}  ${s.workload}, ${s.rate}/s, ${s.connection}; profile ${r.topology.name}: round trip edge ${rtt('edge')} ms, cloud ${rtt('cloud')} ms`;
    }),
    '',
    'order:',
    ...plan.runs
      .slice(0, 60)
      .map((r, i) => `  ${String(i + 1).padStart(4)}  ${r.id.padEnd(10)} sites ${r.sites.join(' then ')}`),
    ...(plan.runs.length > 60 ? [`  … and ${plan.runs.length - 60} more`] : []),
    '',
    `estimated time: ${formatSeconds(estimateSeconds(x, plan.runs))}`,
  ];
  return lines.join('\n');
}

export interface RunOptions {
  /** Where new result sets go (default results/). */
  outRoot?: string;
  /** A result set to continue. */
  resume?: string;
  env?: Record<string, string | undefined>;
  print?: (line: string) => void;
  /** Rewrites one status line in place (a terminal), or prints each update (a log). */
  status?: (line: string) => void;
}

/** A new result set (spec, plan and metadata written), or the one to resume; the runs still to do. */
export async function openResultSet(
  x: LoadedExperiment,
  o: {
    resume?: string | undefined;
    outRoot?: string | undefined;
    backend: string;
    print: (l: string) => void;
  },
): Promise<{ dir: string; stored: StoredPlan; pending: PlannedRun[] }> {
  let dir: string;
  let stored: StoredPlan;
  if (o.resume) {
    dir = path.resolve(o.resume);
    if (!(await exists(path.join(dir, 'plan.json'))))
      throw new Error(`${dir} is not a result set (no plan.json)`);
    stored = await readJson<StoredPlan>(path.join(dir, 'plan.json'));
    if (stored.specHash !== x.hash)
      throw new Error(
        `${dir} was made from another version of ${x.spec.name}'s spec: resume it with the same file, or start a new result set`,
      );
  } else {
    dir = path.resolve(o.outRoot ?? path.join(ROOT, 'results'), resultDirName(x.spec.name, new Date()));
    await ensureDir(path.join(dir, 'runs'));
    stored = { specHash: x.hash, spec: x.spec, conditions: x.conditions, plan: planRuns(x.spec) };
    await writeFile(path.join(dir, 'experiment.yaml'), x.text);
    await writeJsonAtomic(path.join(dir, 'plan.json'), stored);
    const code = await codeVersion(ROOT);
    await writeJsonAtomic(path.join(dir, 'metadata.json'), {
      experiment: x.spec.name,
      spec: path.relative(ROOT, x.file),
      specSha256: x.hash,
      target: x.spec.target,
      backend: o.backend,
      started: new Date().toISOString(),
      commit: code.commit,
      dirty: code.dirty,
      versions: await versions(ROOT),
      host: hostInfo(),
      seed: x.spec.seed,
    });
  }
  const done = await completedRunIds(dir);
  const pending = stored.plan.runs.filter((r) => !done.has(r.id));
  for (const r of pending) await setAsidePartial(dir, r.id);
  return { dir, stored, pending };
}

/** Writes the outputs from the finished runs and prints the headline figures; whether every run is done. */
export async function finishResultSet(
  dir: string,
  name: string,
  print: (l: string) => void,
): Promise<boolean> {
  const done = await completedRunIds(dir);
  const stored = await readJson<StoredPlan>(path.join(dir, 'plan.json'));
  if (done.size > 0) {
    const a = await writeOutputs(dir);
    for (const c of a.summary.conditions) {
      const r = c.reduction.p50;
      print(
        `  ${c.id} ${c.label}: edge p50 ${c.sites.edge.percentiles.p50.estimate.toFixed(2)} ms, cloud ${c.sites.cloud.percentiles.p50.estimate.toFixed(2)} ms, reduction ${(r.estimate * 100).toFixed(1)}% [${(r.lower * 100).toFixed(1)}, ${(r.upper * 100).toFixed(1)}] (predicted ${(c.predictedReduction * 100).toFixed(1)}%)`,
      );
    }
    for (const w of a.summary.warnings) print(`  note: ${w}`);
    print(`report: ${path.join(dir, 'report.html')}`);
  }
  const complete = done.size === stored.plan.runs.length;
  if (!complete)
    print(
      `not finished: resume with  make experiment EXPERIMENT=${name} RESUME=${path.relative(process.cwd(), dir) || dir}`,
    );
  return complete;
}

export async function runExperiment(
  x: LoadedExperiment,
  o: RunOptions = {},
): Promise<{ dir: string; complete: boolean; failed: boolean }> {
  const print = o.print ?? ((l: string) => console.log(l));
  if (x.spec.target !== 'dev')
    throw new Error(`target ${x.spec.target} is run by the kind runner, not this one`);
  const { dir, stored, pending } = await openResultSet(x, {
    resume: o.resume,
    outRoot: o.outRoot,
    backend: 'link proxy (userspace emulation, make dev)',
    print,
  });
  if (o.resume && (await stopLeftover(dir))) print('stopped the testbed a killed run had left behind');
  const doneBefore = stored.plan.runs.length - pending.length;
  const byId = new Map(stored.conditions.map((c) => [c.id, c]));
  print(
    `${x.spec.name}: ${pending.length} of ${stored.plan.runs.length} runs to do, about ${formatSeconds(estimateSeconds(x, pending))}; results in ${path.relative(process.cwd(), dir) || dir}`,
  );

  const abort = new AbortController();
  let interrupted = false;
  let testbed: ExperimentTestbed | null = null;
  const onSignal = (signal: string) => {
    if (interrupted) {
      print(`${signal} again: stopping now`);
      void testbed?.stop().finally(() => process.exit(130));
      return;
    }
    interrupted = true;
    print(`\n${signal}: stopping after dropping the run under way; finished runs are kept`);
    abort.abort();
  };
  const sigint = () => onSignal('SIGINT');
  const sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);

  const status = o.status ?? print;
  const started = Date.now();
  let finished = 0;
  let key: string | null = null;
  /** Why the loop stopped before the end, when a run failed: the finished runs are still analysed. */
  let failure = '';
  const ports = await choosePorts(o.env ?? process.env);
  try {
    for (const run of pending) {
      if (abort.signal.aborted) break;
      const condition = byId.get(run.condition) as ResolvedCondition;
      if (computeKey(condition) !== key) {
        await testbed?.stop();
        const profileFile = path.join(dir, 'testbed-profile.json');
        await writeFile(profileFile, JSON.stringify(condition.profileDocument));
        testbed = await startExperimentTestbed({ resultDir: dir, profileFile, ports });
        key = computeKey(condition);
      }
      const runStart = Date.now();
      const left = pending.length - finished;
      const eta =
        finished > 0
          ? ((Date.now() - started) / 1000 / finished) * left
          : estimateSeconds(x, pending.slice(finished));
      status(
        `${bar(doneBefore + finished, stored.plan.runs.length)} ${doneBefore + finished}/${stored.plan.runs.length} · ${run.id} ${condition.label} · about ${formatSeconds(eta)} left`,
      );
      const record = await executeRun({
        spec: x.spec,
        run,
        condition,
        testbed: testbed as ExperimentTestbed,
        resultDir: dir,
        signal: abort.signal,
      }).catch((err: Error) => {
        failure = `${run.id} failed: ${err.message}`;
        return null;
      });
      if (!record) {
        await setAsidePartial(dir, run.id);
        break;
      }
      finished++;
      const drift = record.drifted ? ' (drifted: links off the profile before the run)' : '';
      print(`  ${run.id} done in ${formatSeconds((Date.now() - runStart) / 1000)}${drift}`);
    }
  } catch (err) {
    failure = (err as Error).message;
  } finally {
    await testbed?.stop();
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
  }
  if (failure) print(`stopped: ${failure}`);
  const complete = await finishResultSet(dir, x.spec.name, print);
  return { dir, complete, failed: failure !== '' };
}

function bar(done: number, total: number, width = 20): string {
  const full = Math.round((done / Math.max(1, total)) * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}
