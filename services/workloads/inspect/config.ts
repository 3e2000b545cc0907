// The inspect workload's variables, which the edge and cloud services add to their own: how much compute the
// site has (the worker pool's size) and how much work may wait for it.
import { type ConfigVar, integerVar } from '../../skeleton/config.ts';
import { CORES_RANGE } from '../../topology/model.ts';

/** CPU cores as Kubernetes writes them: `0.5`, `2`, or millicores `500m` (what a downward-API limit gives). */
function coresVar(name: string, description: string, defaultValue: number): ConfigVar<number> {
  const { min, max } = CORES_RANGE;
  const allowed = `a number of cores from ${min} to ${max} (0.5, 2) or millicores (500m)`;
  return {
    name,
    description,
    defaultValue,
    parse(raw) {
      const m = /^(\d{1,5})m$/.exec(raw);
      const value = m ? Number(m[1]) / 1000 : /^\d{1,3}(\.\d{1,3})?$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(value >= min && value <= max)) return { error: `expected ${allowed}` };
      return { value };
    },
  };
}

export const inspectConfigSpec = {
  siteCores: coresVar(
    'SITE_CORES',
    'CPU cores this site has: inspect runs on a pool of that many worker threads (fractions: fewer busy seconds per worker)',
    1,
  ),
  inspectQueueLimit: integerVar(
    'INSPECT_QUEUE_LIMIT',
    'inspect requests that may wait for a busy worker pool; more get 503 with Retry-After (each waiting one holds its body)',
    64,
    0,
    10_000,
  ),
};
