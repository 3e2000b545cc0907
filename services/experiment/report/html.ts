// The report: one HTML file with everything inside it (figures as inline SVG, styles inline, no script, nothing
// fetched), so it opens offline, mails as one attachment and archives as is. Pure: a string from the summary.
import { REQUEST_TIMEOUT_MS } from '../../loadgen/http.ts';
import type { RunSiteStats, Summary } from '../analysis.ts';
import { formatSeconds } from '../design.ts';
import type { QuantileEstimate } from '../stats.ts';

export interface ReportInput {
  summary: Summary;
  figures: Array<{ name: string; title: string; caption: string; svg: string }>;
  rows: RunSiteStats[];
  metadata: Record<string, unknown>;
  host: {
    loadAverage: number[];
    cpuBusy: number[];
    cpuSteal: number[];
    lateReleases: number[] | null;
    cores: number;
  };
  specText: string;
  durationSeconds: number;
}

const esc = (s: unknown) =>
  String(s)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');

const ms = (x: number) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)) : '–');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '–');

function withInterval(e: QuantileEstimate, f: (x: number) => string): string {
  if (!Number.isFinite(e.estimate)) return '–';
  const mark = e.enough ? '' : '<sup title="too few runs for the confidence asked: [min, max]">*</sup>';
  return `${f(e.estimate)} <span class="ci">[${f(e.lower)}, ${f(e.upper)}]${mark}</span>`;
}

function medianOf(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function reportHtml(r: ReportInput): string {
  const s = r.summary;
  const C = Math.round(s.confidence * 100);
  const crossovers = s.crossovers.map((x) => {
    const where = x.others === 'all runs' ? '' : ` (${esc(x.others)})`;
    if (!x.result.found) return `<li><b>${esc(x.factor)}</b>${where}: ${esc(x.result.reason)}</li>`;
    const lo = x.result.lower === null ? 'below the range' : x.result.lower.toFixed(2);
    const hi = x.result.upper === null ? 'beyond the range' : x.result.upper.toFixed(2);
    const verb =
      x.result.direction === 'edge-stops-winning' ? 'the edge stops winning' : 'the edge starts winning';
    return `<li><b>${esc(x.factor)}</b>${where}: ${verb} at <b>${x.result.x.toFixed(2)}</b> (${C}% interval band reaches zero from ${lo} to ${hi}), by the ${x.percentile}</li>`;
  });
  const table = s.conditions
    .map((c) => {
      const site = (name: 'edge' | 'cloud') => {
        const x = c.sites[name];
        return `<td>${x.runs}</td><td>${withInterval(x.percentiles.p50, ms)}</td><td>${withInterval(x.percentiles.p90, ms)}</td><td>${withInterval(x.percentiles.p99, ms)}</td><td>${ms(x.predictedMs)}</td><td>${pct(x.errorRatio)}</td>`;
      };
      return `<tr><th rowspan="2" class="cond">${esc(c.id)}<br><small>${esc(c.label)}</small></th><td>edge</td>${site('edge')}<td rowspan="2">${withInterval(c.advantage.p50, ms)}</td><td rowspan="2">${withInterval(c.reduction.p50, pct)}</td><td rowspan="2">${pct(c.predictedReduction)}</td><td rowspan="2">${c.runsDrifted}</td></tr><tr><td>cloud</td>${site('cloud')}</tr>`;
    })
    .join('\n');
  const figures = r.figures
    .map(
      (f) =>
        `<figure id="${esc(f.name)}"><h3>${esc(f.title)}</h3>${f.svg.replace(/^<\?xml[^>]*>\s*/, '')}<figcaption>${esc(f.caption)} <span class="files">(<a href="figures/${esc(f.name)}.svg">SVG</a>, <a href="figures/${esc(f.name)}.png">PNG</a>)</span></figcaption></figure>`,
    )
    .join('\n');
  const meta = Object.entries(r.metadata)
    .map(
      ([k, v]) =>
        `<tr><th>${esc(k)}</th><td><code>${esc(typeof v === 'string' ? v : JSON.stringify(v))}</code></td></tr>`,
    )
    .join('\n');
  const late = r.host.lateReleases;
  const hostLines = [
    `${r.host.cores} cores; one-minute load average at the end of a run: median ${medianOf(r.host.loadAverage).toFixed(2)}, highest ${Math.max(...r.host.loadAverage, 0).toFixed(2)}`,
    `CPU busy over a run (all cores, every process on the host): median ${pct(medianOf(r.host.cpuBusy))}; stolen by the hypervisor: median ${pct(medianOf(r.host.cpuSteal))}`,
    late === null
      ? 'the link proxy exports no late-release counter'
      : `the link proxy's releases more than 1 ms late: median ${medianOf(late)} per run, highest ${Math.max(...late, 0)}`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(s.experiment)}: when does the edge win?</title>
<style>
body { font: 14px/1.45 "DejaVu Sans", system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
h3 { font-size: 1rem; margin: .2rem 0; } figure { margin: 1.2rem 0; } figcaption { color: #444; max-width: 820px; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #ddd; padding: .2rem .45rem; text-align: right; vertical-align: top; }
th.cond, .meta th { text-align: left; } .ci { color: #666; font-size: .85em; } .warn { background: #fff6e0; border-left: 4px solid #e0a000; padding: .4rem .8rem; }
pre { background: #f6f6f6; padding: .6rem; overflow-x: auto; } .files { font-size: .85em; } svg { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>${esc(s.experiment)}: when does the edge win?</h1>
<p>${esc(s.description)}</p>
<p>${s.runs.done} of ${s.runs.planned} runs, ${formatSeconds(r.durationSeconds)} of running; every interval is a ${C}% distribution-free interval over the runs (order statistics: no assumption about the latency's distribution). Results in <code>${esc(s.resultDir)}</code>.</p>
${s.warnings.length ? `<div class="warn"><b>Read with care</b><ul>${s.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul></div>` : ''}
<h2>Crossovers</h2>
${crossovers.length ? `<ul>${crossovers.join('\n')}</ul>` : '<p>No numeric factor with two levels or more: nothing to find a crossover along.</p>'}
<h2>Figures</h2>
${figures}
<h2>Numbers</h2>
<p>Per condition and site: the median over the runs of each run's percentile, with its interval; the advantage (cloud − edge, ms) and the reduction (1 − edge/cloud) are computed within each run, then summarised the same way. Predicted: the profile's round trips and transfer time plus the service time measured idle on the site's raw port before each run. Needed for a ${C}% interval: ${s.needed.repetitions} runs per condition (the median over runs, two-sided); within a run, at least ${s.needed.requestsPerRun.p50} / ${s.needed.requestsPerRun.p90} / ${s.needed.requestsPerRun.p99} requests for p50 / p90 / p99 (one-sided). A failed request counts at the ${REQUEST_TIMEOUT_MS / 1000} s request timeout. <sup>*</sup> marks an interval from too few runs.</p>
<table>
<thead><tr><th>condition</th><th>site</th><th>runs</th><th>p50 (ms)</th><th>p90 (ms)</th><th>p99 (ms)</th><th>predicted (ms)</th><th>errors</th><th>cloud − edge p50 (ms)</th><th>reduction p50</th><th>predicted reduction</th><th>drifted runs</th></tr></thead>
<tbody>
${table}
</tbody>
</table>
<h2>Where it ran</h2>
<p>The load generator, the link proxy and both services share this host's CPUs, so a busy host adds its own latency and tail, to both sites alike; what the host did during the runs:</p>
<ul>${hostLines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>
<table class="meta">
${meta}
</table>
<h2>The experiment</h2>
<pre>${esc(r.specText)}</pre>
<p>Every request is in <code>runs/&lt;run&gt;/requests.csv.gz</code>; per run and site in <code>runs.csv</code>; these numbers in <code>summary.json</code>. <code>make experiment-report DIR=…</code> recomputes this page from the raw files.</p>
</body>
</html>
`;
}
