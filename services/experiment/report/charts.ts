// The report's figures as Vega-Lite specifications, made from the summary: latency CDFs per condition, and per
// factor the latency, the reduction and the edge's advantage against its levels, each with its interval band and
// the profile's prediction, the crossover marked where there is one. Pure: render.ts turns them into SVG and PNG.
import type { TopLevelSpec } from 'vega-lite';
import { numericLevel, type PercentileName, type Summary } from '../analysis.ts';
import { labelOf } from '../design.ts';
import type { ExperimentSpec, SettingValue } from '../spec.ts';

export interface Figure {
  /** File name without extension: `cdf`, `latency-rate`, … */
  name: string;
  title: string;
  /** What to read in it, for the report. */
  caption: string;
  spec: TopLevelSpec;
}

export interface CdfCurve {
  condition: string;
  site: string;
  points: Array<{ q: number; ms: number }>;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const SITE_COLORS = { domain: ['edge', 'cloud'], range: ['#1b9e77', '#7570b3'] };
const CONFIG = {
  font: 'DejaVu Sans',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12 },
};

function factorNames(spec: ExperimentSpec): string[] {
  return spec.conditions
    ? [...new Set(spec.conditions.flatMap((c) => Object.keys(c)))]
    : spec.factors.map((f) => f.name);
}

function levelsOf(spec: ExperimentSpec, factor: string): SettingValue[] {
  const f = spec.factors.find((x) => x.name === factor);
  if (f) return f.levels;
  return [
    ...new Set(
      (spec.conditions ?? []).map((c) => c[factor]).filter((v): v is SettingValue => v !== undefined),
    ),
  ];
}

export function cdfFigure(curves: readonly CdfCurve[], labels: Record<string, string>): Figure {
  const values = curves.flatMap((c) =>
    c.points.map((p) => ({ condition: labels[c.condition] ?? c.condition, site: c.site, ms: p.ms, q: p.q })),
  );
  return {
    name: 'cdf',
    title: 'Latency distribution per condition',
    caption:
      'Every answered measured request of every run (failures, counted at the timeout in the percentiles, are left out here), pooled per condition and site: the share of requests (y) answered within a latency (x, log scale). A curve further left is faster; the gap between the curves at a height is the edge’s advantage at that percentile.',
    spec: {
      $schema: SCHEMA,
      config: CONFIG,
      data: { values },
      facet: { field: 'condition', type: 'nominal', title: null, sort: Object.values(labels) },
      columns: 3,
      spec: {
        width: 240,
        height: 160,
        mark: { type: 'line', interpolate: 'step-after', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms)' },
          y: { field: 'q', type: 'quantitative', title: 'share of requests', axis: { format: '%' } },
          color: { field: 'site', type: 'nominal', scale: SITE_COLORS, title: 'site' },
        },
      },
    },
  };
}

interface Row {
  x: SettingValue | number;
  others: string;
  site?: string;
  estimate: number;
  lower: number;
  upper: number;
  predicted: number;
}

function xEncoding(factor: string, numeric: boolean, unit: string, levels: SettingValue[]) {
  return numeric
    ? {
        field: 'x',
        type: 'quantitative' as const,
        title: unit ? `${factor} (${unit})` : factor,
        scale: { zero: false },
      }
    : {
        field: 'x',
        type: 'ordinal' as const,
        title: factor,
        sort: levels.map(String),
        axis: { labelAngle: Math.max(...levels.map((l) => String(l).length)) > 12 ? -25 : 0 },
      };
}

/** Layers shared by every "against a factor" figure: interval (band or bars), estimate (line and points), prediction. */
function againstFactor(o: {
  rows: Row[];
  factor: string;
  levels: SettingValue[];
  numeric: boolean;
  unit: string;
  yTitle: string;
  yFormat?: string;
  /** A scale that keeps small values readable beside a saturated tail (log; symlog when values cross zero). */
  yScale?: 'log' | 'symlog';
  color: boolean;
  /** Crossovers to mark: where the estimate reaches zero, and its interval. */
  crossovers?: Array<{ others: string; at: number; from: number; to: number }>;
}): TopLevelSpec {
  const x = xEncoding(o.factor, o.numeric, o.unit, o.levels);
  const color = o.color
    ? { color: { field: 'site', type: 'nominal' as const, scale: SITE_COLORS, title: 'site' } }
    : {};
  const y = {
    type: 'quantitative' as const,
    title: o.yTitle,
    ...(o.yFormat ? { axis: { format: o.yFormat } } : {}),
    ...(o.yScale ? { scale: { type: o.yScale } } : {}),
  };
  const points = [{ filter: "datum.kind === 'point'" }];
  const layer: object[] = [
    {
      transform: points,
      mark: o.numeric ? { type: 'area', opacity: 0.22 } : { type: 'rule', strokeWidth: 2 },
      encoding: { x, y: { field: 'lower', ...y }, y2: { field: 'upper' }, ...color },
    },
    {
      transform: points,
      // Levels without an order between them are points: a line would suggest values in between.
      mark: o.numeric ? { type: 'line', point: true } : { type: 'point', filled: true, size: 70 },
      encoding: { x, y: { field: 'estimate', ...y }, ...color },
    },
    {
      transform: points,
      mark: o.numeric
        ? { type: 'line', strokeDash: [5, 4], strokeWidth: 1.2 }
        : { type: 'tick', thickness: 2 },
      encoding: {
        x,
        y: { field: 'predicted', ...y },
        ...color,
        ...(o.color ? {} : { color: { value: '#555' } }),
      },
    },
  ];
  const marks = (o.crossovers ?? []).map((c) => ({ ...c, kind: 'crossover' }));
  if (o.crossovers) layer.push({ mark: { type: 'rule', color: '#999' }, encoding: { y: { datum: 0 } } });
  if (marks.length > 0) {
    const only = [{ filter: "datum.kind === 'crossover'" }];
    layer.push(
      {
        transform: only,
        mark: { type: 'rect', color: '#d95f02', opacity: 0.12 },
        encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' } },
      },
      {
        transform: only,
        mark: { type: 'rule', color: '#d95f02', strokeWidth: 2 },
        encoding: { x: { field: 'at', type: 'quantitative' } },
      },
    );
  }
  const values = [...o.rows.map((r) => ({ ...r, kind: 'point' })), ...marks];
  const many = new Set(o.rows.map((r) => r.others)).size > 1;
  const inner = { width: o.numeric ? 320 : { step: 90 }, height: 200, layer };
  return (
    many
      ? {
          $schema: SCHEMA,
          config: CONFIG,
          data: { values },
          facet: { field: 'others', type: 'nominal', title: null },
          columns: 2,
          spec: inner,
        }
      : { $schema: SCHEMA, config: CONFIG, data: { values }, ...inner }
  ) as TopLevelSpec;
}

export function factorFigures(
  spec: ExperimentSpec,
  summary: Summary,
  percentile: PercentileName = 'p50',
): Figure[] {
  const figures: Figure[] = [];
  for (const factor of factorNames(spec)) {
    const levels = levelsOf(spec, factor);
    if (levels.length < 2) continue;
    const nums = levels.map(numericLevel);
    const numeric = nums.every((n) => n !== null);
    const unit = numeric ? ((nums[0] as { unit: string }).unit ?? '') : '';
    const xOf = (v: SettingValue) => (numeric ? (numericLevel(v) as { x: number }).x : String(v));
    const cs = summary.conditions.filter((c) => c.values[factor] !== undefined);
    const othersOf = (values: Record<string, SettingValue>) =>
      labelOf(Object.fromEntries(Object.entries(values).filter(([k]) => k !== factor)));
    const safe = factor.replace(/[^a-zA-Z0-9]+/g, '-');

    const latency: Row[] = cs.flatMap((c) =>
      (['edge', 'cloud'] as const).map((site) => ({
        x: xOf(c.values[factor] as SettingValue),
        others: othersOf(c.values),
        site,
        ...interval(c.sites[site].percentiles[percentile]),
        predicted: c.sites[site].predictedMs,
      })),
    );
    figures.push({
      name: `latency-${safe}`,
      title: `Latency (${percentile}) against ${factor}`,
      caption: `The ${percentile} latency at each level of ${factor}: the line is the median over the runs, the band (or bar) its ${Math.round(summary.confidence * 100)}% distribution-free interval, the dashed line (or tick) what the profile predicts (its round trips and transfer time plus the service time measured idle before each run).`,
      spec: againstFactor({
        rows: latency,
        factor,
        levels,
        numeric,
        unit,
        yTitle: `${percentile} latency (ms)`,
        ...(spread(latency) > 20 ? { yScale: 'log' as const } : {}),
        color: true,
      }),
    });

    const red: Row[] = cs.map((c) => ({
      x: xOf(c.values[factor] as SettingValue),
      others: othersOf(c.values),
      ...interval(c.reduction[percentile]),
      predicted: c.predictedReduction,
    }));
    figures.push({
      name: `reduction-${safe}`,
      title: `Reduction at the edge (${percentile}) against ${factor}`,
      caption: `How much lower the edge’s ${percentile} latency is than the cloud’s (1 − edge/cloud, computed within each run), median over the runs with its interval; the dashed line (or tick) is the profile’s prediction. Below zero the edge is slower.`,
      spec: againstFactor({
        rows: red,
        factor,
        levels,
        numeric,
        unit,
        yTitle: `reduction (${percentile})`,
        yFormat: '%',
        color: false,
      }),
    });

    if (numeric) {
      const adv: Row[] = cs.map((c) => ({
        x: xOf(c.values[factor] as SettingValue),
        others: othersOf(c.values),
        ...interval(c.advantage[percentile]),
        predicted: c.predictedAdvantageMs,
      }));
      const marks = summary.crossovers
        .filter((x) => x.factor === factor && x.result.found)
        .map((x) => {
          const r = x.result as { x: number; lower: number | null; upper: number | null };
          const xsOf = x.points.map((p) => p.x);
          return {
            others: x.others,
            at: r.x,
            from: r.lower ?? Math.min(...xsOf),
            to: r.upper ?? Math.max(...xsOf),
          };
        });
      figures.push({
        name: `advantage-${safe}`,
        title: `The edge’s advantage (${percentile}) against ${factor}`,
        caption: `Cloud − edge ${percentile} latency in ms (positive: the edge is faster), median over the runs with its interval, the prediction dashed. ${marks.length ? 'The orange line marks the crossover, where the edge stops winning; the shaded span is its interval (where the band reaches zero).' : 'No crossover in range.'}`,
        spec: againstFactor({
          rows: adv,
          factor,
          levels,
          numeric,
          unit,
          yTitle: `cloud − edge ${percentile} (ms)`,
          ...(spread(adv) > 20 ? { yScale: 'symlog' as const } : {}),
          color: false,
          crossovers: marks,
        }),
      });
    }
  }
  return figures;
}

/** How many times the largest magnitude in the rows exceeds the smallest non-zero one. */
function spread(rows: Row[]): number {
  const xs = rows
    .flatMap((r) => [r.estimate, r.lower, r.upper, r.predicted])
    .map(Math.abs)
    .filter((v) => Number.isFinite(v) && v > 0);
  return xs.length ? Math.max(...xs) / Math.min(...xs) : 1;
}

function interval(e: { estimate: number; lower: number; upper: number }) {
  return { estimate: e.estimate, lower: e.lower, upper: e.upper };
}
