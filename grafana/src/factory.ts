// Small factories every dashboard module uses, so panels look and read alike: one Prometheus datasource with a
// fixed uid (provisioned by grafana/provisioning), edge and cloud always in the same colours, units and
// legends always set. Panel modules say *what* to show; this module says *how*.

import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** The provisioned datasource (grafana/provisioning/datasources/prometheus.yaml uses the same uid). */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: 'mec-prometheus' };

/** Grafana unit ids used on our panels. */
export const UNIT = {
  seconds: 's',
  ratio: 'percentunit',
  requestsPerSecond: 'reqps',
  bitsPerSecond: 'bps',
  cores: 'short',
  perSecond: 'ops',
  none: 'none',
  dateTime: 'dateTimeAsIso',
} as const;

/** Edge is the hero of the story (green), the cloud the baseline (blue), the prediction a dashed grey line. */
export const COLOR = { edge: 'green', cloud: 'blue', predicted: 'text', measured: 'orange' } as const;

export interface Query {
  expr: string;
  legend: string;
  /** Instant queries suit stats of "now"; time series panels use range queries. */
  instant?: boolean;
}

export function query(expr: string, legend: string): Query {
  return { expr, legend };
}

function target(q: Query, refId: string): DataqueryBuilder {
  const b = new DataqueryBuilder().expr(q.expr).legendFormat(q.legend).refId(refId).datasource(DATASOURCE);
  return q.instant ? b.instant() : b.range();
}

const refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

function thresholds(steps: Array<[number | null, string]>): cog.Builder<dashboard.ThresholdsConfig> {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps(steps.map(([value, color]) => ({ value, color })));
}

export interface PanelSpec {
  title: string;
  /** Shown behind the (i) of the panel: how to read it. Keep it to what a newcomer needs. */
  description: string;
  unit: string;
  queries: Query[];
  width: number;
  height?: number;
  /** Threshold steps, lowest first: [null, 'green'], [0.01, 'red'] … */
  thresholds?: Array<[number | null, string]>;
  min?: number;
  max?: number;
  decimals?: number;
}

/** Series named "edge …" / "cloud …" / "predicted …" get their fixed colours; predictions are dashed. */
function siteColours<T extends TimeseriesPanelBuilder>(panel: T): T {
  const fixed = (color: string) => ({ id: 'color', value: { mode: 'fixed', fixedColor: color } });
  panel
    .overrideByRegexp('^edge.*', [fixed(COLOR.edge)])
    .overrideByRegexp('^cloud.*', [fixed(COLOR.cloud)])
    .overrideByRegexp('^predicted.*', [
      fixed(COLOR.predicted),
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
    ]);
  // p95/p99 lines are thinner and dashed-dotted so p50 reads first.
  panel
    .overrideByRegexp('.* p95$', [{ id: 'custom.lineStyle', value: { fill: 'dash', dash: [4, 4] } }])
    .overrideByRegexp('.* p99$', [{ id: 'custom.lineStyle', value: { fill: 'dot', dash: [1, 4] } }]);
  return panel;
}

export function timeseries(spec: PanelSpec): TimeseriesPanelBuilder {
  const panel = new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width)
    .height(spec.height ?? 8)
    .lineWidth(2)
    .fillOpacity(0)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .calcs(['lastNotNull', 'mean', 'max']),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.None),
    );
  spec.queries.forEach((q, i) => {
    panel.withTarget(target(q, refIds[i] ?? `Q${i}`));
  });
  if (spec.thresholds) {
    panel
      .thresholds(thresholds(spec.thresholds))
      .thresholdsStyle(
        new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
      );
  }
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  if (spec.decimals !== undefined) panel.decimals(spec.decimals);
  return siteColours(panel);
}

export function stat(
  spec: PanelSpec & { colorBackground?: boolean; textMode?: 'value' | 'name' },
): StatPanelBuilder {
  const panel = new StatPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width)
    .height(spec.height ?? 5)
    .graphMode(common.BigValueGraphMode.Area)
    .colorMode(spec.colorBackground ? common.BigValueColorMode.Background : common.BigValueColorMode.Value)
    .textMode(spec.textMode === 'name' ? common.BigValueTextMode.Name : common.BigValueTextMode.ValueAndName)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .thresholds(thresholds(spec.thresholds ?? [[null, 'text']]));
  spec.queries.forEach((q, i) => {
    panel.withTarget(target(q, refIds[i] ?? `Q${i}`));
  });
  if (spec.decimals !== undefined) panel.decimals(spec.decimals);
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  return panel;
}

export function row(title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title);
}

/** The three percentiles every latency panel shows, as the `quantile` label values of our recording rules. */
export const PERCENTILES = [
  { label: 'p50', quantile: '0.5' },
  { label: 'p95', quantile: '0.95' },
  { label: 'p99', quantile: '0.99' },
] as const;

/** Edge and cloud p50/p95/p99 from one recording rule with `site` and `quantile` labels. */
export function percentileQueries(metric: string, selector: string, siteLabel = 'site'): Query[] {
  return PERCENTILES.map(({ label, quantile }) =>
    query(`${metric}{${selector}${selector ? ',' : ''}quantile="${quantile}"}`, `{{${siteLabel}}} ${label}`),
  );
}

export function dashboardBase(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['mec-testbed'])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-30m', to: 'now' })
    .refresh('10s')
    .timezone('browser');
}

/** The workloads the services serve (route /api/v1/<workload>) and the load scripts drive. */
export const WORKLOADS = ['echo', 'inspect', 'media'] as const;

/** The workload variable: every per-workload panel follows it. */
export function workloadVariable(): dashboard.CustomVariableBuilder {
  return new dashboard.CustomVariableBuilder('workload')
    .label('Workload')
    .description('echo: tiny request, pure network. inspect: CPU-heavy image check. media: cached segments.')
    .values(WORKLOADS.join(','))
    .options(WORKLOADS.map((w) => ({ text: w, value: w, selected: w === 'echo' })))
    .current({ text: 'echo', value: 'echo', selected: true });
}

/** Profile switches (a new `profile` label value on mec_link_profile_info) drawn on every time series panel. */
export function profileChangeAnnotation(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Link profile changes')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('purple')
    .expr(
      'max by (profile, backend) (mec_link_profile_info) unless max by (profile, backend) (mec_link_profile_info offset 1m)',
    )
    .titleFormat('profile {{profile}}')
    .textFormat('link profile switched to {{profile}} ({{backend}} backend)')
    .step('30s');
}
