// The headline row: how much nearer the edge is, measured, against what the link profile predicts.
import { query, stat, UNIT } from '../factory.ts';

const PREDICTED = ':mec_link_predicted_edge_reduction_ratio:max';

// Green when the measurement is within 10 points of the prediction's neighbourhood is not expressible as a
// static threshold; these colour the absolute figure instead: the edge should cut at least a third.
const REDUCTION_THRESHOLDS: Array<[number | null, string]> = [
  [null, 'red'],
  [0.1, 'orange'],
  [0.33, 'green'],
];

export function headlinePanels() {
  return [
    stat({
      title: 'Round-trip reduction at the edge (probes, p50)',
      description:
        'How much shorter the UE→edge round trip is than the UE→cloud one, measured by the always-on probes from the UE node (half the time to first byte of a new connection: handshake + request are two round trips). "predicted" is the topology model’s figure for the profile in force: 1 − RTT(edge) / RTT(cloud) of the configured delays.',
      unit: UNIT.ratio,
      width: 6,
      decimals: 1,
      thresholds: REDUCTION_THRESHOLDS,
      queries: [
        query('quantile:probe_round_trip_seconds:edge_reduction{quantile="0.5"}', 'measured'),
        query(PREDICTED, 'predicted'),
      ],
    }),
    stat({
      title: 'Latency reduction at the edge (k6, $workload p50)',
      description:
        'The same reduction as the user experiences it: k6 request duration at the edge vs the cloud for the selected workload (only while `make load` runs; fed by k6 remote write). Processing time is in both, so it is below the round-trip figure for heavy workloads.',
      unit: UNIT.ratio,
      width: 6,
      decimals: 1,
      thresholds: REDUCTION_THRESHOLDS,
      queries: [
        query(
          'workload_quantile:k6_http_req_duration_seconds:edge_reduction{workload="$workload",quantile="0.5"}',
          'measured',
        ),
        query(PREDICTED, 'predicted'),
      ],
    }),
    stat({
      title: 'Round trip UE → site (probes, p50)',
      description:
        'Median TCP round trip from the UE node to each site over the last 5 minutes, next to the round trip the profile configures (sum of the one-way delays there and back).',
      unit: UNIT.seconds,
      width: 8,
      decimals: 1,
      queries: [
        query(
          'target_site:probe_round_trip_seconds:quantile_over_time5m{quantile="0.5"}',
          '{{target_site}} measured',
        ),
        query('target_site:mec_link_predicted_round_trip_seconds:max', '{{target_site}} configured'),
      ],
    }),
    stat({
      title: 'Link profile',
      description:
        'The link profile the emulation applies and the backend applying it (netem in the kernel, or the userspace proxy). Switch with `make profile PROFILE=<name>`.',
      unit: UNIT.none,
      width: 4,
      textMode: 'name',
      queries: [query('max by (profile, backend) (mec_link_profile_info)', '{{profile}} ({{backend}})')],
    }),
  ];
}
