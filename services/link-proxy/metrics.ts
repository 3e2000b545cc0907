// The proxy's Prometheus metrics. The configured-link gauges are the same as the link agent's
// (services/topology/link-gauges.ts, backend="proxy"), so dashboards compare "configured" with "measured"
// whichever backend runs. A multi-hop route is exported as a path: link="ue-edge+edge-cloud", from="ue", to="cloud".
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Impairment, Topology } from '../topology/index.ts';
import { createConfiguredLinkGauges } from '../topology/link-gauges.ts';
import { LATE_CAUSES } from './timer.ts';

export type LinkLabels = { link: string; from: string; to: string };

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const configured = createConfiguredLinkGauges(registry, 'proxy');
  const bytes = new Counter({
    name: 'mec_link_proxy_bytes_total',
    help: 'Bytes the proxy delivered across a link or path, per direction',
    labelNames: ['link', 'from', 'to'] as const,
    registers: [registry],
  });
  const addedDelay = new Histogram({
    name: 'mec_link_proxy_added_delay_seconds',
    help: 'Time each chunk spent in the proxy, from read to write (delay, jitter, rate, ordering, handshake)',
    labelNames: ['link', 'from', 'to'] as const,
    buckets: [
      0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03,
      0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5,
    ],
    registers: [registry],
  });
  const connections = new Counter({
    name: 'mec_link_proxy_connections_total',
    help: 'Connections accepted on a route (labelled with its forward direction)',
    labelNames: ['link', 'from', 'to'] as const,
    registers: [registry],
  });
  const activeConnections = new Gauge({
    name: 'mec_link_proxy_active_connections',
    help: 'Connections open on a route',
    labelNames: ['link', 'from', 'to'] as const,
    registers: [registry],
  });
  const lateness = new Histogram({
    name: 'mec_link_proxy_release_lateness_seconds',
    help: 'How late the proxy released chunks after their scheduled time (its own timing error; negative: early, by at most 0.2 ms, as it cancels its median lateness)',
    buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01],
    registers: [registry],
  });
  const lateReleases = new Counter({
    name: 'mec_link_proxy_late_releases_total',
    help: 'Chunks released more than 1 ms after their scheduled time, by where the time went: cause="timer_thread" (the host woke the timer thread late), "loop_wake" (the host woke the event loop late), "loop_busy" (the event loop waited for a CPU or was busy)',
    labelNames: ['cause'] as const,
    registers: [registry],
  });
  // Every cause is exported from the start, so a rate() over it reads 0 rather than nothing.
  for (const cause of LATE_CAUSES) lateReleases.inc({ cause }, 0);
  const faults = new Gauge({
    name: 'mec_link_proxy_fault',
    help: 'Connection faults injected on a link (1 while active)',
    labelNames: ['link', 'type'] as const,
    registers: [registry],
  });
  const profileChanges = new Counter({
    name: 'mec_link_proxy_profile_changes_total',
    help: 'Profile changes asked for at run time, by outcome (applied | rejected)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });

  /** Replaces every configured gauge: a new profile may have other links, so old series must go. */
  function setConfigured(topology: Topology, paths: Array<LinkLabels & { impairment: Impairment }>) {
    configured.show(topology, [
      ...topology.links.map((l) => ({ link: l.link, from: l.from, to: l.to, impairment: l.impairment })),
      ...paths,
    ]);
  }

  return {
    registry,
    setConfigured,
    bytes,
    addedDelay,
    connections,
    activeConnections,
    lateness,
    lateReleases,
    faults,
    profileChanges,
  };
}

export type ProxyMetrics = ReturnType<typeof createMetrics>;
