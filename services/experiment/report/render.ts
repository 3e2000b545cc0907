// Figures to files: Vega renders each Vega-Lite spec to SVG headless (no browser, no canvas), resvg rasterises the
// SVG to PNG for papers and slides. The HTML report embeds the same SVG, so it needs nothing but itself to open.
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { Figure } from './charts.ts';

export async function toSvg(figure: Figure): Promise<string> {
  const { spec } = compile(figure.spec);
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function toPng(svg: string): Buffer {
  return new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  })
    .render()
    .asPng();
}
