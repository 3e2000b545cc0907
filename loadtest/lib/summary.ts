// Turns k6's end-of-test summary (the object handleSummary receives) into the edge-vs-cloud reduction per
// workload and percentile: a readable table for the terminal and a JSON document for machines. Plain code,
// unit-tested in Node over a recorded summary (loadtest/node/fixtures/k6-summary.json).
import { type Prediction, type Site, WORKLOADS, type Workload } from './plan.ts';

/** The summary object k6 passes to handleSummary (k6's summarizeMetricsToObject; trend times in ms). */
export interface K6Summary {
  root_group?: unknown;
  options?: { summaryTrendStats?: string[]; summaryTimeUnit?: string; noColor?: boolean };
  state?: { isStdOutTTY?: boolean; isStdErrTTY?: boolean; testRunDurationMs?: number };
  metrics: Record<string, K6Metric>;
  setup_data?: unknown;
}

export interface K6Metric {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains: 'default' | 'time' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export const PERCENTILES = ['p(50)', 'p(95)', 'p(99)'] as const;
export type Percentile = (typeof PERCENTILES)[number];

export interface SiteFigures {
  requests: number;
  failedRatio: number;
  /** Milliseconds, by percentile. */
  latencyMs: Partial<Record<Percentile, number>>;
}

export interface WorkloadRow {
  workload: Workload;
  edge: SiteFigures;
  cloud: SiteFigures;
  /** 1 − edge/cloud by percentile (0.6 = the edge is 60% faster). */
  reduction: Partial<Record<Percentile, number>>;
}

export interface ThresholdResult {
  metric: string;
  threshold: string;
  ok: boolean;
}

export interface LoadReport {
  profile: string;
  predictedReduction: number | null;
  durationSeconds: number;
  workloads: WorkloadRow[];
  thresholds: ThresholdResult[];
  passed: boolean;
}

/** `http_req_duration{site:edge,workload:echo}` → the metric and its tags. */
export function parseMetricName(name: string): { metric: string; tags: Record<string, string> } {
  const m = /^([^{]+)\{(.*)\}$/.exec(name);
  if (!m?.[1]) return { metric: name, tags: {} };
  const tags: Record<string, string> = {};
  for (const pair of (m[2] ?? '').split(',')) {
    const at = pair.indexOf(':');
    if (at > 0) tags[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return { metric: m[1], tags };
}

function find(summary: K6Summary, metric: string, site: Site, workload: Workload): K6Metric | undefined {
  for (const [name, value] of Object.entries(summary.metrics)) {
    const parsed = parseMetricName(name);
    if (parsed.metric !== metric) continue;
    const keys = Object.keys(parsed.tags);
    if (keys.length === 2 && parsed.tags.site === site && parsed.tags.workload === workload) return value;
  }
  return undefined;
}

function siteFigures(summary: K6Summary, site: Site, workload: Workload): SiteFigures | undefined {
  const duration = find(summary, 'http_req_duration', site, workload);
  if (!duration) return undefined;
  const latencyMs: Partial<Record<Percentile, number>> = {};
  for (const p of PERCENTILES) {
    const v = duration.values[p] ?? (p === 'p(50)' ? duration.values.med : undefined);
    if (v !== undefined) latencyMs[p] = v;
  }
  const failed = find(summary, 'http_req_failed', site, workload)?.values;
  const reqs = find(summary, 'http_reqs', site, workload)?.values;
  const requests =
    reqs?.count ?? duration.values.count ?? (failed ? (failed.passes ?? 0) + (failed.fails ?? 0) : 0);
  return { requests, failedRatio: failed?.rate ?? 0, latencyMs };
}

/** 1 − edge/cloud; undefined when either side is missing or the cloud took no time. */
export function reduction(edge: number | undefined, cloud: number | undefined): number | undefined {
  if (edge === undefined || cloud === undefined || !(cloud > 0)) return undefined;
  return 1 - edge / cloud;
}

export function buildReport(summary: K6Summary, prediction: Prediction | null): LoadReport {
  const workloads: WorkloadRow[] = [];
  for (const workload of WORKLOADS) {
    const edge = siteFigures(summary, 'edge', workload);
    const cloud = siteFigures(summary, 'cloud', workload);
    if (!edge || !cloud) continue;
    const r: Partial<Record<Percentile, number>> = {};
    for (const p of PERCENTILES) {
      const v = reduction(edge.latencyMs[p], cloud.latencyMs[p]);
      if (v !== undefined) r[p] = v;
    }
    workloads.push({ workload, edge, cloud, reduction: r });
  }
  const thresholds: ThresholdResult[] = [];
  for (const [metric, value] of Object.entries(summary.metrics)) {
    for (const [threshold, { ok }] of Object.entries(value.thresholds ?? {}))
      thresholds.push({ metric, threshold, ok });
  }
  thresholds.sort((a, b) => a.metric.localeCompare(b.metric) || a.threshold.localeCompare(b.threshold));
  return {
    profile: prediction?.profile ?? 'unknown',
    predictedReduction: prediction?.predictedReduction ?? null,
    durationSeconds: (summary.state?.testRunDurationMs ?? 0) / 1000,
    workloads,
    thresholds,
    passed: thresholds.every((t) => t.ok),
  };
}

const ms = (v: number | undefined) => (v === undefined ? '-' : `${v.toFixed(1)} ms`);
const pct = (v: number | undefined | null) =>
  v === undefined || v === null ? '-' : `${(v * 100).toFixed(1)}%`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The readable summary: one row per workload and percentile, then the thresholds. */
export function formatReport(report: LoadReport): string {
  const rows: string[][] = [];
  for (const w of report.workloads) {
    for (const p of PERCENTILES) {
      rows.push([
        p === 'p(50)' ? w.workload : '',
        p.replace(/[()]/g, ''),
        ms(w.edge.latencyMs[p]),
        ms(w.cloud.latencyMs[p]),
        pct(w.reduction[p]),
      ]);
    }
    rows.push([
      '',
      'failed',
      `${pct(w.edge.failedRatio)} of ${w.edge.requests}`,
      `${pct(w.cloud.failedRatio)} of ${w.cloud.requests}`,
      '',
    ]);
  }
  const out = [
    `mec-testbed load: profile ${report.profile}, ${report.durationSeconds.toFixed(0)} s, predicted round-trip reduction ${pct(report.predictedReduction)}`,
    '',
    report.workloads.length > 0
      ? table(['workload', 'pct', 'edge', 'cloud', 'edge reduction'], rows)
      : 'no edge/cloud pairs in the summary (thresholds name the sub-metrics k6 reports)',
    '',
    'thresholds:',
    ...report.thresholds.map((t) => `  ${t.ok ? 'ok  ' : 'FAIL'} ${t.metric} ${t.threshold}`),
    '',
    report.passed ? 'all thresholds passed' : 'some thresholds FAILED: see above',
    '',
  ];
  return out.join('\n');
}

/** What handleSummary returns: the table on stdout, and summary.json + summary.txt in `dir`. */
export function summaryOutputs(
  summary: K6Summary,
  prediction: Prediction | null,
  dir: string,
): Record<string, string> {
  const report = buildReport(summary, prediction);
  const text = formatReport(report);
  return {
    stdout: text,
    [`${dir}/summary.txt`]: text,
    [`${dir}/summary.json`]: `${JSON.stringify({ report, k6: summary }, null, 2)}\n`,
  };
}
