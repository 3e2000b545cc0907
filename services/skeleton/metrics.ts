// The service metrics of the team contract, on a registry per app so tests can run several apps in one process.
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

/** One labelled series of a histogram, resolved once so the hot path does not re-validate and re-hash labels. */
export interface HistogramSeries {
  observe(value: number): void;
}

/** prom-client 15's record of one series (Histogram#hashMap values); checked before use, see histogramSeries. */
interface SeriesRecord {
  labels: object;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/**
 * A series of `histogram` whose observe() writes straight into prom-client's record of it: a bucket search and
 * three additions, where Histogram#observe validates the labels, builds a hash string and formats the bucket
 * bound as a property name (together ~5% of an echo's CPU, twice per request). Relies on prom-client's internal
 * layout, so it checks that layout first and falls back to the public observe() when it differs; the skeleton's
 * tests compare the exposition of both paths. `labels` must stay unchanged afterwards (prom-client keeps it).
 */
export function histogramSeries<T extends string>(
  histogram: Histogram<T>,
  labels: Partial<Record<T, string | number>>,
): HistogramSeries {
  const fallback: HistogramSeries = { observe: (value) => histogram.observe(labels, value) };
  const internal = histogram as unknown as {
    hashMap?: Record<string, SeriesRecord>;
    upperBounds?: readonly number[];
    bucketExemplars?: unknown;
  };
  if (
    typeof internal.hashMap !== 'object' ||
    !Array.isArray(internal.upperBounds) ||
    internal.bucketExemplars
  )
    return fallback;
  const bounds = internal.upperBounds;
  const keys = bounds.map(String);
  let map: Record<string, SeriesRecord> | undefined;
  let record: SeriesRecord | undefined;
  const resolve = (): SeriesRecord | undefined => {
    // An existing record of these labels is used as it is; otherwise zero() creates one through the public API.
    const find = (same: (l: object) => boolean) =>
      Object.values(internal.hashMap ?? {}).find((r) => r && typeof r === 'object' && same(r.labels));
    let found = find((l) => sameLabels(l, labels));
    if (!found) {
      histogram.zero(labels);
      found = find((l) => l === labels);
    }
    map = internal.hashMap;
    const usable =
      found &&
      typeof found.sum === 'number' &&
      typeof found.count === 'number' &&
      keys.every((k) => typeof found.bucketValues?.[k] === 'number');
    return usable ? found : undefined;
  };
  return {
    observe(value) {
      // reset() swaps the whole map: resolve again rather than write to a record nobody exports.
      if (record === undefined || map !== internal.hashMap) record = resolve();
      if (record === undefined || !Number.isFinite(value)) {
        fallback.observe(value);
        return;
      }
      record.sum += value;
      record.count += 1;
      for (let i = 0; i < bounds.length; i++) {
        if (value <= (bounds[i] as number)) {
          (record.bucketValues[keys[i] as string] as number) += 1;
          return;
        }
      }
    },
  };
}

function sameLabels(a: object, b: object): boolean {
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  return keys.length === Object.keys(y).length && keys.every((k) => String(x[k]) === String(y[k]));
}
