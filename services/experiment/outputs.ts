// Writes what a user reads from a result set, all of it recomputed from the raw files each time: runs.csv (one
// tidy row per run and site), summary.json, figures/*.svg and *.png, and report.html.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Analysis, analyse, PERCENTILES, type RunSiteStats } from './analysis.ts';
import { familyTotal, LATE_RELEASES } from './counters.ts';
import { cdfFigure, factorFigures } from './report/charts.ts';
import { reportHtml } from './report/html.ts';
import { toPng, toSvg } from './report/render.ts';
import { csvLine, ensureDir, readJson, writeJsonAtomic } from './store.ts';

export function runsCsv(a: Analysis): string {
  const factorNames = [...new Set(a.stored.conditions.flatMap((c) => Object.keys(c.values)))];
  const byId = new Map(a.stored.conditions.map((c) => [c.id, c]));
  const header = [
    'run',
    'condition',
    'repetition',
    ...factorNames,
    'site',
    'requests',
    'ok',
    'errors',
    'dropped',
    'new_connections',
    'mean_ms',
    ...PERCENTILES.map((p) => `${p.name}_ms`),
    'predicted_ms',
    'calibration_rtt_ms',
    'calibration_predicted_rtt_ms',
    'drifted',
  ];
  const line = (r: RunSiteStats) =>
    csvLine([
      r.run,
      r.condition,
      r.repetition,
      ...factorNames.map((f) => byId.get(r.condition)?.values[f] ?? ''),
      r.site,
      r.requests,
      r.ok,
      r.errors,
      r.dropped,
      r.newConnections,
      r.meanMs,
      ...PERCENTILES.map((p) => r.percentiles[p.name]),
      r.predictedMs,
      r.calibrationRttMs,
      r.calibrationPredictedRttMs,
      r.drifted ? 'true' : 'false',
    ]);
  return csvLine(header) + a.rows.map(line).join('');
}

/** Analyses the result set and writes every output; returns the analysis. */
export async function writeOutputs(dir: string): Promise<Analysis> {
  const a = await analyse(dir);
  await writeFile(path.join(dir, 'runs.csv'), runsCsv(a));
  await writeJsonAtomic(path.join(dir, 'summary.json'), a.summary);
  const labels = Object.fromEntries(a.stored.conditions.map((c) => [c.id, `${c.id}: ${c.label}`]));
  const figures = [cdfFigure(a.cdfs, labels), ...factorFigures(a.stored.spec, a.summary)];
  await ensureDir(path.join(dir, 'figures'));
  const rendered = [];
  for (const f of figures) {
    const svg = await toSvg(f);
    await writeFile(path.join(dir, 'figures', `${f.name}.svg`), svg);
    await writeFile(path.join(dir, 'figures', `${f.name}.png`), toPng(svg));
    await writeFile(path.join(dir, 'figures', `${f.name}.vl.json`), `${JSON.stringify(f.spec, null, 2)}\n`);
    rendered.push({ name: f.name, title: f.title, caption: f.caption, svg });
  }
  const metadata = await readJson<Record<string, unknown>>(path.join(dir, 'metadata.json'));
  const specText = await readFile(path.join(dir, 'experiment.yaml'), 'utf8');
  const late = a.records.map((r) =>
    familyTotal(r.proxyCounters, LATE_RELEASES, Object.fromEntries(r.proxyCounterNames.map((n) => [n, 0]))),
  );
  const durationSeconds = a.records.reduce(
    (s, r) => s + (Date.parse(r.endedAt) - Date.parse(r.startedAt)) / 1000,
    0,
  );
  const html = reportHtml({
    summary: a.summary,
    figures: rendered,
    rows: a.rows,
    metadata,
    host: {
      loadAverage: a.records.map((r) => r.host.loadAverage1m),
      cpuBusy: a.records.map((r) => r.host.cpuBusy ?? Number.NaN),
      cpuSteal: a.records.map((r) => r.host.cpuSteal ?? Number.NaN),
      lateReleases: late.every((x) => x === null) ? null : late.map((x) => x ?? 0),
      cores: (metadata.host as { cores?: number } | undefined)?.cores ?? 0,
    },
    specText,
    durationSeconds,
  });
  await writeFile(path.join(dir, 'report.html'), html);
  return a;
}
