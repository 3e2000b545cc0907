// k6: the echo workload against the edge and the cloud under identical open-model load.
//   MEC_RATE=20 MEC_DURATION=1m k6 run loadtest/echo.ts        (variables: loadtest/lib/plan.ts ENV_DOC)
import { echo, handleSummary, options as optionsFor, requireHealthy } from './lib/k6.ts';

export const options = optionsFor([{ workload: 'echo', percent: 100 }]);

export function setup(): void {
  requireHealthy();
}

export function echo_edge(): void {
  echo('edge');
}

export function echo_cloud(): void {
  echo('cloud');
}

export { handleSummary };
