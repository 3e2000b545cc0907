// The services' metrics (the names dashboards and rules read), on a registry per app so tests can run several apps
// in one process.
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export type Site = 'edge' | 'cloud';
export type Workload = 'echo' | 'inspect' | 'media';

/** 0.5 ms … 5 s: resolves a loopback echo as well as an inspect of a large image behind a slow backhaul. */
export const DURATION_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1, 2.5, 5,
];

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly requestDuration: Histogram<'site' | 'route' | 'method' | 'status_code'>;
  readonly workloadDuration: Histogram<'site' | 'workload'>;
  readonly cacheLookups: Counter<'site' | 'result'>;
  readonly upstreamDuration: Histogram<'site' | 'upstream' | 'outcome'>;
  readonly inspectPixels: Counter<'site'>;
}

export function createMetrics(site: Site): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics: ServiceMetrics = {
    registry,
    requestDuration: new Histogram({
      name: 'mec_http_request_duration_seconds',
      help: 'Time from request arrival to the response being handed to the kernel, by route template.',
      labelNames: ['site', 'route', 'method', 'status_code'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    }),
    workloadDuration: new Histogram({
      name: 'mec_workload_processing_seconds',
      help: 'Time spent in the workload itself (echo payload, defect detection, media lookup or fetch).',
      labelNames: ['site', 'workload'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'mec_media_cache_lookups_total',
      help: 'Media segment lookups in the edge cache, by result (hit or miss).',
      labelNames: ['site', 'result'],
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: 'mec_upstream_request_duration_seconds',
      help: 'Edge to cloud fetches, by outcome (ok, http_error, timeout, unreachable, too_large).',
      labelNames: ['site', 'upstream', 'outcome'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers: [registry],
    }),
    inspectPixels: new Counter({
      name: 'mec_inspect_pixels_total',
      help: 'Pixels run through defect detection.',
      labelNames: ['site'],
      registers: [registry],
    }),
  };
  // Expose the cache counter at zero for both results so rate() and ratios work before the first miss.
  if (site === 'edge') {
    metrics.cacheLookups.inc({ site, result: 'hit' }, 0);
    metrics.cacheLookups.inc({ site, result: 'miss' }, 0);
  }
  metrics.inspectPixels.inc({ site }, 0);
  return metrics;
}
