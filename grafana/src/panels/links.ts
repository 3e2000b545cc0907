// The links: what the profile configures and what is measured across them. Used by the overview (summary)
// and the emulation dashboard (per link and direction).
import { query, stat, timeseries, UNIT } from '../factory.ts';

export function linkSummaryPanels() {
  return [
    timeseries({
      title: 'Round trip: configured vs measured',
      description:
        "Configured: the profile's one-way delays there and back. Measured: the probes' median round trip (half their time to first byte on a new connection: handshake + request). The measured line sits slightly above the configured one (the kernel and the proxy add a little); a large gap means the emulation is not doing what the profile says.",
      unit: UNIT.seconds,
      width: 8,
      min: 0,
      queries: [
        query('target_site:mec_link_predicted_round_trip_seconds:max', '{{target_site}} configured'),
        query(
          'target_site:probe_round_trip_seconds:quantile_over_time5m{quantile="0.5"}',
          '{{target_site}} measured p50',
        ),
      ],
    }),
    timeseries({
      title: 'Jitter: configured vs measured',
      description:
        "Configured: the standard deviation of each link direction's delay. Measured: the standard deviation of the probes' round trip over 5 minutes (a probe crosses each link four times and the figure is halved, so it compares with the path's one-way jitter; ue→cloud combines both links).",
      unit: UNIT.seconds,
      width: 8,
      min: 0,
      queries: [
        query(
          'max by (link, from, to) (mec_link_configured_jitter_seconds{link=~"ue-edge|edge-cloud"})',
          '{{from}}→{{to}} configured',
        ),
        query(
          'target_site:probe_round_trip_seconds:stddev_over_time5m',
          '{{target_site}} measured (round trip)',
        ),
      ],
    }),
    timeseries({
      title: 'Loss: configured vs failed probes',
      description:
        'Configured packet loss per link direction, and the share of probes that failed over 5 minutes. TCP retransmits lost packets, so loss shows up as latency spikes long before probes fail.',
      unit: UNIT.ratio,
      width: 8,
      min: 0,
      decimals: 2,
      queries: [
        query(
          'max by (link, from, to) (mec_link_configured_loss_ratio{link=~"ue-edge|edge-cloud"})',
          '{{from}}→{{to}} configured',
        ),
        query('1 - target_site:probe_success:avg_over_time5m', '{{target_site}} failed probes'),
      ],
    }),
  ];
}

/** Per link and direction, for the emulation dashboard. */
export function emulationPanels() {
  return [
    stat({
      title: 'Backend and profile',
      description:
        'Which emulation backend applies the profile: netem (kernel qdiscs on every node, set by the link agent) or proxy (the userspace link proxy).',
      unit: UNIT.none,
      width: 8,
      textMode: 'name',
      queries: [query('max by (profile, backend) (mec_link_profile_info)', '{{profile}} via {{backend}}')],
    }),
    stat({
      title: 'netem available per node',
      description:
        "1 when the node's kernel has sch_netem and the link agent can apply delay there, 0 when not (install the kernel module, or use EMULATION=proxy). Empty with the proxy backend.",
      unit: UNIT.none,
      width: 8,
      thresholds: [
        [null, 'red'],
        [1, 'green'],
      ],
      colorBackground: true,
      queries: [query('max by (node) (mec_link_netem_available)', '{{node}}')],
    }),
    stat({
      title: 'Last profile applied by the agents',
      description: 'When each link agent last applied the profile to its node (netem backend).',
      unit: UNIT.dateTime,
      width: 8,
      queries: [query('max by (node) (mec_link_agent_last_apply_timestamp_seconds) * 1000', '{{node}}')],
    }),
    timeseries({
      title: 'Configured one-way delay per direction',
      description: 'The latency each link direction is configured to add, as each backend reports it.',
      unit: UNIT.seconds,
      width: 12,
      min: 0,
      queries: [query('mec_link_configured_latency_seconds', '{{link}} {{from}}→{{to}} ({{backend}})')],
    }),
    timeseries({
      title: 'Fidelity: measured ÷ configured round trip',
      description:
        'Probe round trip (p50) divided by the configured round trip, per site. 1.0 is a perfect emulation; the kernel, the proxy and the service add a little on top, so expect slightly above 1.',
      unit: UNIT.none,
      width: 12,
      decimals: 2,
      thresholds: [
        [null, 'red'],
        [0.9, 'green'],
        [1.25, 'orange'],
      ],
      queries: [
        query(
          'target_site:probe_round_trip_seconds:quantile_over_time5m{quantile="0.5"} / ignoring (quantile) target_site:mec_link_predicted_round_trip_seconds:max',
          '{{target_site}}',
        ),
      ],
    }),
    timeseries({
      title: 'Proxy: delay added per direction (p50, p99)',
      description:
        'The delay the link proxy actually added to the chunks it forwarded, per direction, against what it was configured to add (proxy backend only).',
      unit: UNIT.seconds,
      width: 12,
      min: 0,
      queries: [
        query(
          'histogram_quantile(0.5, sum by (link, from, to, le) (rate(mec_link_proxy_added_delay_seconds_bucket[1m])))',
          '{{link}} {{from}}→{{to}} p50',
        ),
        query(
          'histogram_quantile(0.99, sum by (link, from, to, le) (rate(mec_link_proxy_added_delay_seconds_bucket[1m])))',
          '{{link}} {{from}}→{{to}} p99',
        ),
      ],
    }),
    timeseries({
      title: 'Proxy: releases more than 1 ms late, by cause',
      description:
        "Share of the link proxy's releases that ran more than 1 ms after their scheduled time, by where the time went (proxy backend only). Above 0.5% the p99 panels show the host, not the link. loop_busy: the proxy waited for a CPU other processes held (give it priority or cores of its own); timer_thread / loop_wake: the host woke a sleeping thread late. See services/link-proxy/README.md.",
      unit: UNIT.ratio,
      width: 12,
      min: 0,
      thresholds: [
        [null, 'green'],
        [0.005, 'red'],
      ],
      queries: [
        query(
          'sum by (cause) (rate(mec_link_proxy_late_releases_total[1m])) / scalar(sum(rate(mec_link_proxy_release_lateness_seconds_count[1m])))',
          '{{cause}}',
        ),
      ],
    }),
    timeseries({
      title: 'Proxy: throughput per direction',
      description: 'Bits per second the link proxy forwards in each direction (proxy backend only).',
      unit: UNIT.bitsPerSecond,
      width: 12,
      min: 0,
      queries: [
        query(
          'sum by (link, from, to) (rate(mec_link_proxy_bytes_total[1m])) * 8',
          '{{link}} {{from}}→{{to}}',
        ),
      ],
    }),
    timeseries({
      title: 'Proxy: new connections per direction',
      description:
        'Connections per second through the link proxy. Each new connection pays an extra round trip (the TCP handshake crosses the emulated link too).',
      unit: UNIT.perSecond,
      width: 12,
      min: 0,
      queries: [
        query(
          'sum by (link, from, to) (rate(mec_link_proxy_connections_total[1m]))',
          '{{link}} {{from}}→{{to}}',
        ),
      ],
    }),
    timeseries({
      title: 'netem drops per direction',
      description:
        'Packets netem dropped per second on each direction (loss emulation plus queue overflows; netem backend only). Above the configured loss, the queue limit is too small for the rate.',
      unit: UNIT.perSecond,
      width: 12,
      min: 0,
      queries: [query('sum by (from, to) (rate(mec_link_netem_drops_total[1m]))', '{{from}}→{{to}}')],
    }),
    timeseries({
      title: 'Link agent apply errors',
      description:
        "Failed profile applications per node (netem backend). Read the agent's log with `make logs`.",
      unit: UNIT.none,
      width: 12,
      min: 0,
      queries: [query('max by (node) (increase(mec_link_agent_apply_errors_total[5m]))', '{{node}}')],
    }),
  ];
}
