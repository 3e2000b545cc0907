// The same spec on the kind testbed (`target: kind`): per run, the condition's profile is switched with the
// testbed's CLI, then k6 runs loadtest/experiment.ts as a Job on the ue node with the generated options (per site
// in the run's order: a warm-up then the measured phase, at the condition's constant arrival rate) and writes every
// request with its CSV output to the Job's log, which is read back into the same result set as on `make dev`.
// A run whose site compute differs from the one before resizes the services first (CPU limit and SITE_CORES).
// What kind cannot give here: the links' calibration (no raw ports from the UE: the run records none), and the
// services' idle service time (the prediction is the network's part only). Pure builders, a thin kubectl layer.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SITE_SERVICES, siteComputePatches } from '../../k8s/site-compute.ts';
import { REQUEST_TIMEOUT_MS, type RequestRecord } from '../loadgen/http.ts';
import type { PlannedRun } from './design.ts';
import type { RunRecord, SiteRecord } from './execute.ts';
import { watchHost } from './host.ts';
import type { LoadedExperiment } from './load.ts';
import { predictedNetworkSeconds } from './predict.ts';
import type { ResolvedCondition } from './resolve.ts';
import { computeKey, finishResultSet, openResultSet } from './runner.ts';
import type { ExperimentSpec, MeasuredSite, RunSettings } from './spec.ts';
import { ensureDir, RequestWriter, runDir, type StoredRequest, writeJsonAtomic } from './store.ts';
import { HIT_SEGMENTS } from './workloads.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);

export const NAMESPACE = 'mec-testbed';
export const SCRIPT_CONFIGMAP = 'mec-experiment-k6';
/** Seconds between one site's measured phase and the next site's warm-up, for the first site's last answers. */
const GAP_SECONDS = 2;

/** `rate` per second as k6's integer rate over a time unit (0.5/s → 1 per 2s; 2.5/s → 5 per 2s). */
export function arrival(rate: number): { rate: number; timeUnit: string } {
  for (const unit of [1, 2, 4, 5, 10, 20, 100, 1000]) {
    const r = rate * unit;
    if (Math.abs(r - Math.round(r)) < 1e-9) return { rate: Math.round(r), timeUnit: `${unit}s` };
  }
  return { rate: Math.round(rate * 1000), timeUnit: '1000s' };
}

/** k6's options for one run: a scenario per site and phase, one site after the other. Pure. */
export function k6Options(
  spec: ExperimentSpec,
  planned: PlannedRun,
  s: RunSettings,
): Record<string, unknown> {
  const scenarios: Record<string, unknown> = {};
  let start = 0;
  for (const site of planned.sites) {
    for (const [phase, seconds] of [
      ['warmup', spec.warmupSeconds],
      ['measure', spec.durationSeconds],
    ] as const) {
      if (seconds <= 0) continue;
      scenarios[`${site}_${phase}`] = {
        executor: 'constant-arrival-rate',
        ...arrival(s.rate),
        duration: `${seconds}s`,
        startTime: `${start}s`,
        // k6 drops an iteration when no VU is free (dropped_iterations): the same rule as maxInFlight on dev.
        preAllocatedVUs: Math.min(s.maxInFlight, Math.max(1, Math.ceil(s.rate))),
        maxVUs: s.maxInFlight,
        exec: site,
        gracefulStop: `${GAP_SECONDS}s`,
        tags: { site, phase },
      };
      start += seconds;
    }
    start += GAP_SECONDS;
  }
  return {
    scenarios,
    noConnectionReuse: s.connection === 'new',
    discardResponseBodies: true,
    systemTags: ['status', 'method', 'name', 'scenario', 'error', 'error_code'],
    summaryTrendStats: ['med', 'p(99)'],
    setupTimeout: '60s',
  };
}

/** The request k6 sends, as loadtest/experiment.ts reads it. Pure. */
export function k6Request(s: RunSettings, streamPrefix: string, urls: { edge: string; cloud: string }) {
  const base = {
    headers: {} as Record<string, string>,
    bodyBytes: 0,
    urls,
    prepare: [] as string[],
    timeoutMs: REQUEST_TIMEOUT_MS,
  };
  switch (s.workload) {
    case 'echo':
      return { ...base, method: 'GET', path: `/api/v1/echo?bytes=${s.echoBytes}` };
    case 'inspect':
      return {
        ...base,
        method: 'POST',
        path: `/api/v1/inspect?width=${s.imageWidth}&height=${s.imageHeight}`,
        headers: { 'content-type': 'application/octet-stream' },
        bodyBytes: s.imageWidth * s.imageHeight,
      };
    case 'media-hit':
      return {
        ...base,
        method: 'GET',
        path: `/api/v1/media/${streamPrefix}-hit/{i%4}`,
        prepare: Array.from({ length: HIT_SEGMENTS }, (_, i) => `/api/v1/media/${streamPrefix}-hit/${i}`),
      };
    case 'media-miss':
      return { ...base, method: 'GET', path: `/api/v1/media/${streamPrefix}-miss/{i}` };
  }
}

export function jobName(runId: string): string {
  return `mec-exp-${runId}`;
}

/** The k6 Job of one run: on the ue node, as hardened as `make load`'s, its CSV on standard output. Pure. */
export function k6Job(o: {
  runId: string;
  image: string;
  options: unknown;
  request: unknown;
  experiment: string;
}) {
  const labels = {
    'app.kubernetes.io/name': 'k6',
    'app.kubernetes.io/component': 'experiment',
    'app.kubernetes.io/part-of': 'mec-testbed',
    'mec-testbed.dev/experiment': o.experiment,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: jobName(o.runId), namespace: NAMESPACE, labels },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { ...labels, 'mec-testbed.dev/client': 'true' } },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          nodeSelector: { 'mec-testbed.dev/site': 'ue' },
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 12345,
            runAsGroup: 12345,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'k6',
              image: o.image,
              imagePullPolicy: 'IfNotPresent',
              args: [
                'run',
                '--quiet',
                '--no-summary',
                '--log-output=none',
                '--out',
                'csv=/dev/stdout',
                '/scripts/experiment.ts',
              ],
              env: [
                { name: 'MEC_EXP_OPTIONS', value: JSON.stringify(o.options) },
                { name: 'MEC_EXP_REQUEST', value: JSON.stringify(o.request) },
                { name: 'K6_NO_USAGE_REPORT', value: 'true' },
              ],
              resources: {
                requests: { cpu: '250m', memory: '256Mi' },
                limits: { cpu: '1', memory: '512Mi' },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [
                { name: 'scripts', mountPath: '/scripts', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'scripts', configMap: { name: SCRIPT_CONFIGMAP } },
            { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
          ],
        },
      },
    },
  };
}

/**
 * k6's CSV output (one row per metric sample) to the requests a run keeps: the `http_req_duration` rows of the
 * experiment's scenarios, with the site and phase from the scenario's name. Lines before the header (anything k6
 * printed first) are skipped. Pure.
 */
export function parseK6Csv(
  text: string,
  planned: PlannedRun,
  setting: 'new' | 'reused',
  workload = '',
): StoredRequest[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('metric_name,timestamp,metric_value'));
  if (start < 0) return [];
  const cols = (lines[start] as string).split(',');
  const at = (c: string) => cols.indexOf(c);
  const out: StoredRequest[] = [];
  const firstAt = new Map<string, number>();
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('http_req_duration,')) continue;
    const c = line.split(',');
    const m = /^(edge|cloud)_(warmup|measure)$/.exec(c[at('scenario')] ?? '');
    if (!m) continue;
    const scenario = m[0];
    const t = Number(c[at('timestamp')]) * 1000;
    if (!firstAt.has(scenario)) firstAt.set(scenario, t);
    const status = Number(c[at('status')] || 0);
    const record: RequestRecord = {
      phase: m[2] as RequestRecord['phase'],
      dueMs: t - (firstAt.get(scenario) as number),
      latencyMs: Number(c[at('metric_value')]),
      status,
      bytes: Number.NaN,
      sentBytes: Number.NaN,
      // k6 does not say per request whether it reused a connection; the run's setting is recorded.
      connection: setting,
      serverMs: Number.NaN,
      error: c[at('error_code')] || (status === 0 ? c[at('error')] || 'error' : ''),
    };
    out.push({
      ...record,
      workload,
      run: planned.id,
      condition: planned.condition,
      repetition: planned.repetition,
      site: m[1] as MeasuredSite,
    });
  }
  return out;
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const bin = process.env.KUBECTL || 'kubectl';
  const context = process.env.KUBE_CONTEXT || 'kind-mec-testbed';
  const child = run(bin, ['--context', context, ...args], { maxBuffer: 1024 ** 3 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

async function k6Image(): Promise<string> {
  const env = await readFile(path.join(ROOT, 'versions.env'), 'utf8');
  const image = /^K6_IMAGE=(.+)$/m.exec(env)?.[1]?.trim();
  if (!image) throw new Error('versions.env has no K6_IMAGE');
  return image;
}

/** Runs the experiment on the kind testbed `make up` made. Returns the exit code (0 done, 130 interrupted). */
export async function runOnKind(
  x: LoadedExperiment,
  o: { resume?: string | undefined; outRoot?: string | undefined },
): Promise<number> {
  const print = (l: string) => console.log(l);
  await kubectl(['get', 'namespace', NAMESPACE]).catch((err: Error) => {
    throw new Error(
      `the kind testbed does not answer (${err.message.split('\n')[0]}): run \`make up\` first`,
    );
  });
  const { dir, stored, pending } = await openResultSet(x, { ...o, backend: 'kind testbed, k6', print });
  const script = await readFile(path.join(ROOT, 'loadtest/experiment.ts'), 'utf8');
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: SCRIPT_CONFIGMAP, namespace: NAMESPACE },
    data: { 'experiment.ts': script },
  };
  await kubectl(['apply', '--server-side', '--field-manager=mec-testbed', '-f', '-'], JSON.stringify(cm));
  const image = await k6Image();
  const urls = { edge: 'http://edge.mec-testbed.svc:8080', cloud: 'http://cloud.mec-testbed.svc:8080' };
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    print('\nSIGINT: stopping after the run under way; finished runs are kept');
  };
  process.on('SIGINT', onSigint);
  let compute: string | null = null;
  try {
    for (const [i, planned] of pending.entries()) {
      if (interrupted) break;
      const c = stored.conditions.find((k) => k.id === planned.condition) as ResolvedCondition;
      print(`${i + 1}/${pending.length} ${planned.id} ${c.label}`);
      if (computeKey(c) !== compute) {
        await applySiteCompute(c);
        compute = computeKey(c);
      }
      await executeKindRun({ x, dir, planned, c, image, urls });
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
  return (await finishResultSet(dir, x.spec.name, print)) ? 0 : 130;
}

/**
 * The run's site compute on the testbed: each service's CPU limit and SITE_CORES from the profile's cores (the
 * manifests' own patch, k8s/site-compute.ts), then the rollout waited for, so no run starts on the old pods.
 */
async function applySiteCompute(c: ResolvedCondition): Promise<void> {
  for (const patch of siteComputePatches(c.topology, NAMESPACE))
    await kubectl(
      ['apply', '--server-side', '--field-manager=mec-testbed', '--force-conflicts', '-f', '-'],
      JSON.stringify(patch),
    );
  for (const name of Object.values(SITE_SERVICES))
    await kubectl(['-n', NAMESPACE, 'rollout', 'status', `deployment/${name}`, '--timeout=300s']);
}

async function executeKindRun(o: {
  x: LoadedExperiment;
  dir: string;
  planned: PlannedRun;
  c: ResolvedCondition;
  image: string;
  urls: { edge: string; cloud: string };
}): Promise<void> {
  const { planned, c } = o;
  const started = new Date().toISOString();
  const profileFile = path.join(o.dir, 'testbed-profile.json');
  await writeFile(profileFile, JSON.stringify(c.profileDocument));
  await run(
    process.execPath,
    [
      'services/cli/main.ts',
      '--context',
      process.env.KUBE_CONTEXT || 'kind-mec-testbed',
      'profile',
      profileFile,
    ],
    { cwd: ROOT },
  );
  // The link agents apply a profile within a second; the pause gives them that and the spec's own pause.
  await new Promise((r) => setTimeout(r, Math.max(2, o.x.spec.pauseSeconds) * 1000));
  const endHost = await watchHost();
  const attempt = Date.now().toString(36);
  const request = k6Request(c.settings, `${planned.id}-${attempt}`, o.urls);
  const job = k6Job({
    runId: planned.id,
    image: o.image,
    options: k6Options(o.x.spec, planned, c.settings),
    request,
    experiment: o.x.spec.name,
  });
  await kubectl(['-n', NAMESPACE, 'delete', 'job', jobName(planned.id), '--ignore-not-found', '--wait=true']);
  await kubectl(['apply', '--server-side', '--field-manager=mec-testbed', '-f', '-'], JSON.stringify(job));
  const total =
    planned.sites.length * (o.x.spec.warmupSeconds + o.x.spec.durationSeconds + GAP_SECONDS) + 120;
  await kubectl([
    '-n',
    NAMESPACE,
    'wait',
    '--for=condition=complete',
    `job/${jobName(planned.id)}`,
    `--timeout=${Math.ceil(total)}s`,
  ]);
  const csv = await kubectl(['-n', NAMESPACE, 'logs', `job/${jobName(planned.id)}`]);
  const requests = parseK6Csv(csv, planned, c.settings.connection, c.settings.workload);
  if (requests.length === 0)
    throw new Error(`${planned.id}: k6 wrote no requests (the Job's log has no CSV)`);
  const dir = runDir(o.dir, planned.id);
  await ensureDir(dir);
  const writer = new RequestWriter(path.join(dir, 'requests.csv.gz'));
  for (const r of requests) writer.write(r);
  await writer.close();
  const sites: SiteRecord[] = planned.sites.map((site) => ({
    site,
    calibration: {
      site,
      measuredRttMs: Number.NaN,
      predictedRttMs: Number.NaN,
      drifted: false,
      serviceMs: Number.NaN,
      responseBytes: Number.NaN,
    },
    predictedMs:
      predictedNetworkSeconds(c.topology, site, {
        newConnection: c.settings.connection === 'new',
        upBytes: request.bodyBytes,
        downBytes: 0,
      }) * 1000,
    sent: requests.filter((r) => r.site === site).length,
    dropped: 0,
    startedAt: started,
  }));
  const record: RunRecord = {
    id: planned.id,
    condition: planned.condition,
    repetition: planned.repetition,
    attempt,
    startedAt: started,
    endedAt: new Date().toISOString(),
    sites,
    drifted: false,
    host: await endHost(),
    proxyCounters: {},
    proxyCounterNames: [],
    requests: requests.length,
  };
  await writeJsonAtomic(path.join(dir, 'run.json'), record);
}
