// The gauges both emulation backends export about the profile in force, defined once so the link agent (netem)
// and the link proxy cannot drift apart: dashboards compare "configured" and "predicted" with "measured"
// whichever backend runs. A multi-hop path is one series too: link="ue-edge+edge-cloud", from="ue", to="cloud".
// The predictions are the model's own arithmetic (paths.ts): the recording rules only select them.
import { Gauge, type Registry } from 'prom-client';
import type { Impairment, Topology } from './model.ts';
import { prediction } from './paths.ts';

export type EmulationBackend = 'netem' | 'proxy';

export interface ConfiguredLink {
  link: string;
  from: string;
  to: string;
  impairment: Impairment;
}

export interface ConfiguredLinkGauges {
  /** Replaces every series with this profile's (none: nothing applied, so no series). */
  show(topology: Topology | undefined, links: readonly ConfiguredLink[]): void;
}

export function createConfiguredLinkGauges(
  registry: Registry,
  backend: EmulationBackend,
): ConfiguredLinkGauges {
  const labelNames = ['link', 'from', 'to', 'backend'] as const;
  const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers: [registry] });
  const latency = gauge(
    'mec_link_configured_latency_seconds',
    'Configured one-way latency of a link or path',
  );
  const jitter = gauge(
    'mec_link_configured_jitter_seconds',
    'Configured jitter of a link or path (paths: independent jitters added in variance)',
  );
  const loss = gauge(
    'mec_link_configured_loss_ratio',
    'Configured packet loss probability of a link or path',
  );
  const rate = gauge(
    'mec_link_configured_rate_bytes_per_second',
    'Configured capacity of a link or path in bytes per second (0 = unlimited)',
  );
  const info = new Gauge({
    name: 'mec_link_profile_info',
    help: 'The link profile in force and the backend applying it (value 1)',
    labelNames: ['profile', 'backend'] as const,
    registers: [registry],
  });
  const roundTrip = new Gauge({
    name: 'mec_link_predicted_round_trip_seconds',
    help: "Round trip the profile predicts from the UE to a site: the path's one-way delays there and back, no processing",
    labelNames: ['target_site', 'backend'] as const,
    registers: [registry],
  });
  const reduction = new Gauge({
    name: 'mec_link_predicted_edge_reduction_ratio',
    help: "How much shorter the profile predicts the UE's round trip to the edge than to the cloud: 1 - RTT(edge) / RTT(cloud)",
    labelNames: ['backend'] as const,
    registers: [registry],
  });
  return {
    show(topology, links) {
      for (const g of [latency, jitter, loss, rate, info, roundTrip, reduction]) g.reset();
      if (topology === undefined) return;
      info.set({ profile: topology.name, backend }, 1);
      for (const { link, from, to, impairment } of links) {
        const labels = { link, from, to, backend };
        latency.set(labels, impairment.latencySeconds);
        jitter.set(labels, impairment.jitterSeconds);
        loss.set(labels, impairment.loss);
        rate.set(labels, impairment.rateBitsPerSecond === null ? 0 : impairment.rateBitsPerSecond / 8);
      }
      const predicted = prediction(topology);
      for (const [site, seconds] of Object.entries(predicted.roundTripSeconds))
        roundTrip.set({ target_site: site, backend }, seconds);
      reduction.set({ backend }, predicted.edgeReduction);
    },
  };
}
