// Reads the queries back out of generated dashboard JSON: for the tests that check every panel (malformed,
// unknown metric names) and for the CI proof that runs every query against a real Prometheus.

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
  legend: string;
  /** `annotation` for the dashboard's annotation queries. */
  kind: 'panel' | 'annotation';
}

interface DashboardJson {
  uid?: string;
  title?: string;
  panels?: Array<{
    type?: string;
    title?: string;
    targets?: Array<{ expr?: string; refId?: string; legendFormat?: string }>;
    panels?: unknown[];
  }>;
  annotations?: { list?: Array<{ name?: string; expr?: string; builtIn?: number }> };
}

export function panelQueries(json: unknown): PanelQuery[] {
  const d = json as DashboardJson;
  const dashboard = d.uid ?? '(no uid)';
  const out: PanelQuery[] = [];
  for (const panel of d.panels ?? []) {
    if (panel.type === 'row') continue;
    for (const t of panel.targets ?? []) {
      out.push({
        dashboard,
        panel: panel.title ?? '(untitled)',
        refId: t.refId ?? '',
        expr: t.expr ?? '',
        legend: t.legendFormat ?? '',
        kind: 'panel',
      });
    }
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.builtIn === 1 || !a.expr) continue;
    out.push({
      dashboard,
      panel: a.name ?? '(annotation)',
      refId: 'annotation',
      expr: a.expr,
      legend: '',
      kind: 'annotation',
    });
  }
  return out;
}

/** Replaces `$name` and `${name}` with the variable's value; throws on a variable it does not know. */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = vars[name];
    if (value === undefined)
      throw new Error(`query uses $${name}, which is not a dashboard variable: ${expr}`);
    return value;
  });
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** The metric (series) names a PromQL expression reads: everything that is not a function, keyword or label. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // string literals (label values, label_replace args)
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\boffset\s+\w+/g, ' ') // offset modifiers
    .replace(/\[[^\]]*\]/g, ' ') // range selectors
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ') // numbers
    .replace(/\b[a-z_]+\s*\(/g, ' ('); // function calls
  const names = stripped.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return [...new Set(names.filter((n) => !KEYWORDS.has(n)))];
}

/** Metrics only k6's remote write produces (raw `k6_*` or our rules over them). */
export function isK6Metric(name: string): boolean {
  return /(^|:)k6_/.test(name);
}

/** Metrics only the link agent (netem backend, a kind node) produces. */
export const AGENT_ONLY_METRICS = [
  'mec_link_netem_available',
  'mec_link_netem_drops_total',
  'mec_link_agent_last_apply_timestamp_seconds',
  'mec_link_agent_apply_errors_total',
];

export type Feed = 'k6' | 'agent' | 'testbed';

/** Where a query's data comes from: only k6 remote write, only the netem link agent, or the testbed itself. */
export function feedOf(expr: string): Feed {
  const names = metricNames(expr);
  if (names.length > 0 && names.every(isK6Metric)) return 'k6';
  if (names.length > 0 && names.every((n) => AGENT_ONLY_METRICS.includes(n))) return 'agent';
  return 'testbed';
}
