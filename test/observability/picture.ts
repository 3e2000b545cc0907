// Draws the overview dashboard's main panels as an SVG from the same queries on the same Prometheus data the
// CI proof checks (Grafana cannot run here), then rasterises it with rsvg-convert (Debian: librsvg2-bin).
// `make picture` writes docs/overview.png this way.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { type PanelQuery, panelQueries, substitute } from '../../grafana/src/queries.ts';
import type { PromApi } from './stack.ts';

export interface Line {
  label: string;
  points: Array<[number, number]>;
}

export interface ChartPanel {
  title: string;
  unit: 'seconds' | 'ratio' | 'reqps';
  lines: Line[];
}

const W = 620;
const H = 250;
const PAD = { left: 64, right: 16, top: 34, bottom: 74 };

export function colorFor(label: string, i: number): { stroke: string; dash: string } {
  const palette = ['#e8743b', '#945ecf', '#13a8a8', '#d44a8e', '#7a8b99'];
  const dash = / p95$|\(k6\)$/.test(label) ? '6 4' : / p99$/.test(label) ? '2 4' : '';
  if (/^predicted|configured/.test(label)) return { stroke: '#555', dash: '8 6' };
  if (/^edge/.test(label)) return { stroke: '#2f9e44', dash };
  if (/^cloud/.test(label)) return { stroke: '#1c7ed6', dash };
  return { stroke: palette[i % palette.length] ?? '#333', dash };
}

export function formatValue(v: number, unit: ChartPanel['unit']): string {
  if (unit === 'seconds') return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 1 : 0)} ms` : `${v.toFixed(2)} s`;
  if (unit === 'ratio') return `${(v * 100).toFixed(0)}%`;
  return `${v.toFixed(v < 10 ? 1 : 0)}/s`;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One panel as an SVG group at (x, y). Pure. */
export function chartSvg(panel: ChartPanel, x: number, y: number): string {
  const all = panel.lines.flatMap((l) => l.points);
  const out = [
    `<g transform="translate(${x},${y})">`,
    `<rect width="${W}" height="${H}" rx="6" fill="#ffffff" stroke="#d0d5dd"/>`,
    `<text x="12" y="22" font-size="14" font-weight="bold" fill="#222">${esc(panel.title)}</text>`,
  ];
  if (all.length === 0) {
    out.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">No data</text></g>`);
    return out.join('');
  }
  const t0 = Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(...all.map((p) => p[0]));
  let lo = Math.min(0, ...all.map((p) => p[1]));
  let hi = Math.max(...all.map((p) => p[1]));
  if (hi === lo) hi = lo + 1;
  hi += (hi - lo) * 0.08;
  if (lo < 0) lo -= (hi - lo) * 0.05;
  const pw = W - PAD.left - PAD.right;
  const ph = H - PAD.top - PAD.bottom;
  const sx = (t: number) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * pw;
  const sy = (v: number) => PAD.top + ph - ((v - lo) / (hi - lo)) * ph;
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    out.push(
      `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${sy(v)}" y2="${sy(v)}" stroke="#eef0f3"/>`,
      `<text x="${PAD.left - 6}" y="${sy(v) + 4}" font-size="10" text-anchor="end" fill="#666">${formatValue(v, panel.unit)}</text>`,
    );
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    const s = Math.round(t - t0);
    out.push(
      `<text x="${sx(t)}" y="${PAD.top + ph + 14}" font-size="10" text-anchor="middle" fill="#666">+${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}</text>`,
    );
  }
  panel.lines.forEach((line, i) => {
    const { stroke, dash } = colorFor(line.label, i);
    const d = line.points
      .map(([t, v], j) => `${j === 0 ? 'M' : 'L'}${sx(t).toFixed(1)},${sy(v).toFixed(1)}`)
      .join('');
    out.push(
      `<path d="${d}" fill="none" stroke="${stroke}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
  });
  // Legend: up to three columns under the plot, each entry with its last value.
  panel.lines.forEach((line, i) => {
    const col = i % 3;
    const rowN = Math.floor(i / 3);
    const lx = 12 + col * 202;
    const ly = PAD.top + ph + 30 + rowN * 14;
    const { stroke, dash } = colorFor(line.label, i);
    const last = line.points[line.points.length - 1]?.[1];
    out.push(
      `<line x1="${lx}" x2="${lx + 18}" y1="${ly - 4}" y2="${ly - 4}" stroke="${stroke}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      `<text x="${lx + 22}" y="${ly}" font-size="10" fill="#333">${esc(line.label)}${last === undefined ? '' : ` ${formatValue(last, panel.unit)}`}</text>`,
    );
  });
  out.push('</g>');
  return out.join('');
}

export function pictureSvg(title: string, subtitle: string, panels: ChartPanel[]): string {
  const cols = 2;
  const rows = Math.ceil(panels.length / cols);
  const width = cols * W + (cols + 1) * 16;
  const height = 64 + rows * (H + 16);
  const body = panels.map((p, i) =>
    chartSvg(p, 16 + (i % cols) * (W + 16), 64 + Math.floor(i / cols) * (H + 16)),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif">`,
    `<rect width="100%" height="100%" fill="#f4f5f7"/>`,
    `<text x="16" y="30" font-size="20" font-weight="bold" fill="#111">${esc(title)}</text>`,
    `<text x="16" y="50" font-size="12" fill="#555">${esc(subtitle)}</text>`,
    ...body,
    '</svg>',
  ].join('\n');
}

/** Grafana's legend templating: {{label}} replaced by the series' label value. */
export function legend(format: string, metric: Record<string, string>): string {
  return format.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => metric[k] ?? '');
}

/** The panels of the README picture, by title in the generated overview (with $workload = echo). */
export const PICTURE_PANELS: Array<{ title: string; unit: ChartPanel['unit'] }> = [
  { title: 'Client side (k6): $workload request duration', unit: 'seconds' },
  { title: 'Network: round trip measured by probes (UE → site)', unit: 'seconds' },
  { title: 'Server side: $workload time inside the service', unit: 'seconds' },
  { title: 'Edge reduction per percentile: client, network, server', unit: 'ratio' },
  { title: 'Throughput: $workload', unit: 'reqps' },
  { title: 'Round trip: configured vs measured', unit: 'seconds' },
];

export async function collectPanels(
  api: PromApi,
  dashboardJson: unknown,
  start: number,
  end: number,
): Promise<ChartPanel[]> {
  const queries = panelQueries(dashboardJson);
  const panels: ChartPanel[] = [];
  for (const { title, unit } of PICTURE_PANELS) {
    const qs: PanelQuery[] = queries.filter((q) => q.panel === title);
    if (qs.length === 0) throw new Error(`the overview has no panel "${title}"`);
    const lines: Line[] = [];
    for (const q of qs) {
      const { result } = await api.range(substitute(q.expr, { workload: 'echo' }), start, end, 2);
      for (const s of result) {
        lines.push({
          label: legend(q.legend, s.metric),
          points: s.values
            .map(([t, v]) => [t, Number(v)] as [number, number])
            .filter(([, v]) => Number.isFinite(v)),
        });
      }
    }
    panels.push({ title: title.replace('$workload', 'echo'), unit, lines });
  }
  return panels;
}

/** Writes `<png>.svg` and rasterises it to `png` with rsvg-convert. */
export function writePicture(svg: string, png: string): void {
  const svgPath = png.replace(/\.png$/, '.svg');
  writeFileSync(svgPath, svg);
  execFileSync('rsvg-convert', ['--format=png', '--output', png, svgPath], { stdio: 'inherit' });
}
