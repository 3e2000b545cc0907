// Edge vs cloud latency over time, from the three vantage points: the client (k6), the network (probes) and
// the server (the services' own histograms). Same colours and percentiles in each, so they compare at a glance.
import { PERCENTILES, percentileQueries, query, timeseries, UNIT } from '../factory.ts';

export function latencyPanels() {
  return [
    timeseries({
      title: 'Client side (k6): $workload request duration',
      description:
        'What a user at the UE waits for: k6 request duration (native histogram) at p50/p95/p99, edge vs cloud, identical load on both. Only while `make load` runs (fed by k6 remote write).',
      unit: UNIT.seconds,
      width: 12,
      queries: percentileQueries(
        'site_workload:k6_http_req_duration_seconds:histogram_quantile',
        'workload="$workload"',
      ),
    }),
    timeseries({
      title: 'Network: round trip measured by probes (UE → site)',
      description:
        'Round trip from the UE node measured by the blackbox probes (half the time to first byte of a new connection), p50/p95/p99 over 5 minutes. This is the network part of every request, and it is there before any load.',
      unit: UNIT.seconds,
      width: 12,
      queries: percentileQueries(
        'target_site:probe_round_trip_seconds:quantile_over_time5m',
        '',
        'target_site',
      ),
    }),
    timeseries({
      title: 'Server side: $workload time inside the service',
      description:
        'Request duration measured by the service itself (arrival to response), p50/p95/p99. No network in it: for echo both sites are near zero; for inspect the smaller edge may be slower; edge media includes cloud fetches on cache misses.',
      unit: UNIT.seconds,
      width: 12,
      queries: percentileQueries(
        'site_workload:mec_http_request_duration_seconds:histogram_quantile',
        'workload="$workload"',
      ),
    }),
    timeseries({
      title: 'Edge reduction per percentile: client, network, server',
      description:
        '1 − edge/cloud for each vantage point and percentile; "predicted" is the profile\'s round-trip reduction. The client and network lines should sit near the prediction; the server line is about processing only.',
      unit: UNIT.ratio,
      width: 12,
      queries: [
        ...PERCENTILES.map(({ label, quantile }) =>
          query(
            `workload_quantile:k6_http_req_duration_seconds:edge_reduction{workload="$workload",quantile="${quantile}"}`,
            `client (k6) ${label}`,
          ),
        ),
        ...PERCENTILES.map(({ label, quantile }) =>
          query(
            `quantile:probe_round_trip_seconds:edge_reduction{quantile="${quantile}"}`,
            `network (probes) ${label}`,
          ),
        ),
        query(
          'workload_quantile:mec_http_request_duration_seconds:edge_reduction{workload="$workload",quantile="0.5"}',
          'server p50',
        ),
        query(':mec_link_predicted_edge_reduction_ratio:max', 'predicted'),
      ],
    }),
  ];
}
