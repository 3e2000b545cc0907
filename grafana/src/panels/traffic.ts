// Load and health: throughput, errors, the edge cache, the inspect workload's processing time and worker pool,
// CPU per site.
import { PERCENTILES, query, timeseries, UNIT } from '../factory.ts';

export function trafficPanels() {
  return [
    timeseries({
      title: 'Throughput: $workload',
      description:
        'Requests per second served by each site (server side) and sent by k6 (client side). Open-model load: both sites get the same arrival rate, so a gap means one of them is dropping or timing out.',
      unit: UNIT.requestsPerSecond,
      width: 8,
      min: 0,
      queries: [
        query('site_workload:mec_http_requests:rate1m{workload="$workload"}', '{{site}} served'),
        query('site_workload:k6_http_reqs:rate1m{workload="$workload"}', '{{site}} sent (k6)'),
      ],
    }),
    timeseries({
      title: 'Error ratio: $workload',
      description:
        'Share of requests that failed: 5xx answers counted by the services, and failed requests seen by k6 (including timeouts). The dashed line is the 1% error budget.',
      unit: UNIT.ratio,
      width: 8,
      min: 0,
      thresholds: [
        [null, 'green'],
        [0.01, 'red'],
      ],
      queries: [
        query(
          'site_workload:mec_http_request_errors:ratio_rate1m{workload="$workload"}',
          '{{site}} server 5xx',
        ),
        query('site_workload:k6_http_req_failed:ratio_rate1m{workload="$workload"}', '{{site}} failed (k6)'),
      ],
    }),
    timeseries({
      title: 'Edge media cache hit ratio',
      description:
        'Share of media segment lookups the edge answers from its cache. A hit is served at edge distance; a miss pays the edge→cloud round trip on top.',
      unit: UNIT.ratio,
      width: 8,
      min: 0,
      max: 1,
      queries: [query('site:mec_media_cache_hits:ratio_rate1m{site="edge"}', 'edge hit ratio')],
    }),
    timeseries({
      title: 'Inspect processing time',
      description:
        'Time spent in the defect-detection workload itself, p50/p95/p99 per site. The edge has less CPU than the cloud, so this is where the edge can lose what the network gave it.',
      unit: UNIT.seconds,
      width: 12,
      queries: PERCENTILES.map(({ label, quantile }) =>
        query(
          `site_workload:mec_workload_processing_seconds:histogram_quantile{workload="inspect",quantile="${quantile}"}`,
          `{{site}} ${label}`,
        ),
      ),
    }),
    timeseries({
      title: 'CPU by site',
      description: 'CPU used by the edge and cloud service processes, in cores (1 = one core busy).',
      unit: UNIT.cores,
      width: 12,
      min: 0,
      decimals: 2,
      queries: [query('site:process_cpu_seconds:rate1m', '{{site}} cores')],
    }),
    timeseries({
      title: 'Inspect workers busy',
      description:
        "Share of each site's inspect workers that were busy, averaged over a minute. Workers are the site's cores (the profile's site compute); near 100% the site is saturated and jobs queue.",
      unit: UNIT.ratio,
      width: 8,
      min: 0,
      max: 1,
      queries: [query('site:mec_inspect_workers_busy:ratio_avg1m', '{{site}} busy')],
    }),
    timeseries({
      title: 'Inspect jobs waiting',
      description:
        'The longest queue of inspect jobs waiting for a worker in the last minute. A queue adds its wait to every request behind it: this is where a small edge loses what the network gave it.',
      unit: UNIT.none,
      width: 8,
      min: 0,
      queries: [query('site:mec_inspect_queue_length:max1m', '{{site}} waiting')],
    }),
    timeseries({
      title: 'Inspect requests refused',
      description:
        "Inspect requests answered 503 because the site's queue was full (INSPECT_QUEUE_LIMIT): the site turns work away instead of letting it wait without bound.",
      unit: UNIT.requestsPerSecond,
      width: 8,
      min: 0,
      queries: [query('site:mec_inspect_rejected:rate1m', '{{site}} refused')],
    }),
  ];
}
