// k6: the mixed scenario (MIXED_SHARES in lib/plan.ts) against the edge and the cloud under identical load.
//   MEC_RATE=50 MEC_SCENARIO=ramp k6 run loadtest/mixed.ts
import { echo, handleSummary, inspect, media, options as optionsFor, requireHealthy } from './lib/k6.ts';
import { MIXED_SHARES } from './lib/plan.ts';

export const options = optionsFor(MIXED_SHARES);

export function setup(): void {
  requireHealthy();
}

export const echo_edge = (): void => echo('edge');
export const echo_cloud = (): void => echo('cloud');
export const inspect_edge = (): void => inspect('edge');
export const inspect_cloud = (): void => inspect('cloud');
export const media_edge = (): void => media('edge');
export const media_cloud = (): void => media('cloud');

export { handleSummary };
