// k6: the inspect workload against the edge and the cloud under identical open-model load.
//   MEC_RATE=20 MEC_DURATION=1m k6 run loadtest/inspect.ts        (variables: loadtest/lib/plan.ts ENV_DOC)
import { handleSummary, inspect, options as optionsFor, requireHealthy } from './lib/k6.ts';

export const options = optionsFor([{ workload: 'inspect', percent: 100 }]);

export function setup(): void {
  requireHealthy();
}

export function inspect_edge(): void {
  inspect('edge');
}

export function inspect_cloud(): void {
  inspect('cloud');
}

export { handleSummary };
