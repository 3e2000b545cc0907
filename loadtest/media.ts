// k6: the media workload against the edge and the cloud under identical open-model load.
//   MEC_RATE=20 MEC_DURATION=1m k6 run loadtest/media.ts        (variables: loadtest/lib/plan.ts ENV_DOC)
import { handleSummary, media, options as optionsFor, requireHealthy } from './lib/k6.ts';

export const options = optionsFor([{ workload: 'media', percent: 100 }]);

export function setup(): void {
  requireHealthy();
}

export function media_edge(): void {
  media('edge');
}

export function media_cloud(): void {
  media('cloud');
}

export { handleSummary };
