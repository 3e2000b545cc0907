// `make experiment-compare A=… B=…`: do two result sets differ? For every condition both have (matched by its
// settings) and each site and percentile, the per-run values of A and B are compared with the two-sided
// Mann–Whitney U test (distribution-free, runs as the independent units), the shift estimated by Hodges–Lehmann,
// and the p-values adjusted with Holm's method across every comparison made, at α = 0.05.
import type { Analysis, PercentileName, RunSiteStats } from './analysis.ts';
import { PERCENTILES } from './analysis.ts';
import { holm, mannWhitney } from './stats.ts';

export const ALPHA = 0.05;

export const TEST_STATEMENT =
  'two-sided Mann–Whitney U test on the per-run values (exact without ties, else the normal approximation with tie correction), shift by Hodges–Lehmann (B − A), p-values Holm-adjusted across all comparisons, α = 0.05';

export interface Comparison {
  condition: string;
  site: string;
  percentile: PercentileName;
  runsA: number;
  runsB: number;
  medianA: number;
  medianB: number;
  shiftMs: number;
  p: number;
  pAdjusted: number;
  method: string;
  significant: boolean;
}

function key(values: Record<string, unknown>): string {
  return JSON.stringify(Object.entries(values).sort(([a], [b]) => a.localeCompare(b)));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

/** Every comparison of A and B. Pure. */
export function compareAnalyses(a: Analysis, b: Analysis): Comparison[] {
  const bByKey = new Map(b.stored.conditions.map((c) => [key(c.values), c]));
  const raw: Omit<Comparison, 'pAdjusted' | 'significant'>[] = [];
  const values = (rows: RunSiteStats[], condition: string, site: string, p: PercentileName) =>
    rows
      .filter((r) => r.condition === condition && r.site === site && !r.drifted)
      .map((r) => r.percentiles[p])
      .filter(Number.isFinite);
  for (const ca of a.stored.conditions) {
    const cb = bByKey.get(key(ca.values));
    if (!cb) continue;
    for (const site of ['edge', 'cloud'])
      for (const { name } of PERCENTILES) {
        const xa = values(a.rows, ca.id, site, name);
        const xb = values(b.rows, cb.id, site, name);
        if (xa.length === 0 || xb.length === 0) continue;
        const t = mannWhitney(xa, xb);
        raw.push({
          condition: ca.label,
          site,
          percentile: name,
          runsA: xa.length,
          runsB: xb.length,
          medianA: median(xa),
          medianB: median(xb),
          shiftMs: t.shift,
          p: t.p,
          method: t.method,
        });
      }
  }
  const adjusted = holm(raw.map((r) => r.p));
  return raw.map((r, i) => ({
    ...r,
    pAdjusted: adjusted[i] as number,
    significant: (adjusted[i] as number) < ALPHA,
  }));
}

export function comparisonText(nameA: string, nameB: string, cs: Comparison[]): string {
  if (cs.length === 0)
    return `no condition of ${nameA} matches one of ${nameB} (conditions are matched by their settings)`;
  const head = [
    'condition',
    'site',
    'pct',
    'runs A/B',
    'median A',
    'median B',
    'shift B−A',
    'p',
    'p (Holm)',
    '',
  ];
  const rows = cs.map((c) => [
    c.condition,
    c.site,
    c.percentile,
    `${c.runsA}/${c.runsB}`,
    c.medianA.toFixed(2),
    c.medianB.toFixed(2),
    `${c.shiftMs >= 0 ? '+' : ''}${c.shiftMs.toFixed(2)}`,
    c.p.toPrecision(2),
    c.pAdjusted.toPrecision(2),
    c.significant ? 'differs' : '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) =>
    r
      .map((x, i) => x.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  const differ = cs.filter((c) => c.significant).length;
  const smallest = Math.min(...cs.map((c) => c.runsA + c.runsB));
  return [
    `A: ${nameA}`,
    `B: ${nameB}`,
    `test: ${TEST_STATEMENT}`,
    '',
    line(head),
    ...rows.map(line),
    '',
    `${differ} of ${cs.length} comparisons differ at α = ${ALPHA} after Holm's adjustment.${smallest < 8 ? ' With 3 runs against 3 the smallest possible two-sided p is 0.1: a test this small cannot find a difference; add repetitions.' : ''}`,
  ].join('\n');
}
