// The presets as the README's Markdown table: one-way delays, predicted round trips and the edge's cut, from
// the model (`make generate` writes it between the README's presets markers).
import type { Topology } from './model.ts';
import { pathImpairment, predictedReduction, roundTripSeconds } from './paths.ts';
import { DEFAULT_PRESET, PRESETS } from './presets.ts';
import { formatDuration, formatLoss, formatRate } from './units.ts';
import { topologyFrom } from './validate.ts';

export function presetsTable(): string {
  const rows = Object.keys(PRESETS).map((name) => {
    const t: Topology = topologyFrom(PRESETS[name], `preset ${name}`);
    const hop = (from: string, to: string) => {
      const i = pathImpairment(t, from, to);
      return `${formatDuration(i.latencySeconds)} ±${formatDuration(i.jitterSeconds)} ${i.distribution}, loss ${formatLoss(i.loss)}, ${formatRate(i.rateBitsPerSecond)}`;
    };
    const ms = (s: number) => `${Math.round(s * 1e4) / 10} ms`;
    return `| ${name}${name === DEFAULT_PRESET ? ' (default)' : ''} | ${hop('ue', 'edge')} | ${hop('edge', 'ue')} | ${hop('edge', 'cloud')} | ${ms(roundTripSeconds(t, 'ue', 'edge'))} | ${ms(roundTripSeconds(t, 'ue', 'cloud'))} | ${Math.round(predictedReduction(t) * 100)}% |`;
  });
  return [
    '| preset | ue→edge (up) | edge→ue (down) | edge→cloud | RTT edge | RTT cloud | cut |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
