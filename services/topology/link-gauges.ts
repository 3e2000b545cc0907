// The configured-link gauges both emulation backends export, defined once so the link agent (netem) and the
// link proxy cannot drift apart: dashboards compare "configured" with "measured" whichever backend runs.
// A multi-hop path is one series too: link="ue-edge+edge-cloud", from="ue", to="cloud".
import { Gauge, type Registry } from 'prom-client';
import type { Impairment } from './model.ts';

export type EmulationBackend = 'netem' | 'proxy';

export interface ConfiguredLink {
  link: string;
  from: string;
  to: string;
  impairment: Impairment;
}

export interface ConfiguredLinkGauges {
  /** Replaces every configured series with these links (none: nothing applied, so no series). */
  show(profile: string | undefined, links: readonly ConfiguredLink[]): void;
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
  return {
    show(profile, links) {
      for (const g of [latency, jitter, loss, rate, info]) g.reset();
      if (profile === undefined) return;
      info.set({ profile, backend }, 1);
      for (const { link, from, to, impairment } of links) {
        const labels = { link, from, to, backend };
        latency.set(labels, impairment.latencySeconds);
        jitter.set(labels, impairment.jitterSeconds);
        loss.set(labels, impairment.loss);
        rate.set(labels, impairment.rateBitsPerSecond === null ? 0 : impairment.rateBitsPerSecond / 8);
      }
    },
  };
}
