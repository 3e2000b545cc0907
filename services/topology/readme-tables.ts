// The README's tables that come from the model: the presets (one-way delays, predicted round trips, the edge's
// cut) and the range of every number a profile holds. `make generate` writes them between the README's markers.

import { PROFILE_YAML_LIMITS } from './bounded-yaml.ts';
import type { Topology } from './model.ts';
import { CORES_RANGE, DEFAULT_CORES, JITTER_DISTRIBUTIONS } from './model.ts';
import { pathImpairment, predictedReduction, roundTripSeconds } from './paths.ts';
import { DEFAULT_PRESET, PRESETS } from './presets.ts';
import { SOURCES_LIMIT, TEXT_LIMIT } from './schema.ts';
import { formatDuration, formatLoss, formatRate, RANGES } from './units.ts';
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

/** What each field of a profile may hold, and the bounds of the file itself. */
export function rangesTable(): string {
  const { durationSeconds: d, rateBitsPerSecond: r } = RANGES;
  const rows = [
    [
      '`latency`, `jitter`',
      '`6ms`, `0.5ms`, `250us`, `1s`',
      `${formatDuration(d.min)} to ${formatDuration(d.max)} in whole microseconds; jitter at most the latency`,
    ],
    [
      '`rate`',
      '`64kbit`, `80Mbit`, `10Gbit`, `1Tbit`',
      `${formatRate(r.min)} to ${formatRate(r.max)} per second in whole bits; unset is unlimited`,
    ],
    [
      '`loss`',
      '`0.1%` or `0.001`',
      `${formatLoss(RANGES.loss.min)} to below ${formatLoss(RANGES.loss.below)}, in steps of one in a million`,
    ],
    ['`distribution`', JITTER_DISTRIBUTIONS.map((x) => `\`${x}\``).join(', '), 'default `normal`'],
    [
      '`sites.<edge or cloud>.cores`',
      '`0.5`, `1`, `4`',
      `${CORES_RANGE.min} to ${CORES_RANGE.max} in millicores; default edge ${DEFAULT_CORES.edge}, cloud ${DEFAULT_CORES.cloud}`,
    ],
    [
      '`description`, `sources`',
      'text',
      `at most ${TEXT_LIMIT} characters each, at most ${SOURCES_LIMIT} sources`,
    ],
  ];
  const file = `A profile file is at most ${PROFILE_YAML_LIMITS.maxBytes / 1024} KiB and ${PROFILE_YAML_LIMITS.maxTokens} tokens, nests at most ${PROFILE_YAML_LIMITS.maxDepth} levels and uses at most ${PROFILE_YAML_LIMITS.maxAliases} aliases.`;
  return [
    '| field | written as | range |',
    '|---|---|---|',
    ...rows.map((cells) => `| ${cells.join(' | ')} |`),
    '',
    file,
  ].join('\n');
}
