// The dashboards, assembled from the panel modules. `make generate` writes them to grafana/dashboards/*.json.
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { dashboardBase, profileChangeAnnotation, row, workloadVariable } from './factory.ts';
import { headlinePanels } from './panels/headline.ts';
import { latencyPanels } from './panels/latency.ts';
import { emulationPanels, linkSummaryPanels } from './panels/links.ts';
import { trafficPanels } from './panels/traffic.ts';

export function overviewDashboard(): dashboard.Dashboard {
  const builder = dashboardBase(
    'mec-overview',
    'MEC testbed: edge vs cloud',
    'What serving from the edge instead of the cloud does to latency: measured at the client (k6), on the network (probes from the UE) and inside the services, against what the link profile predicts.',
  )
    .withVariable(workloadVariable())
    .annotation(profileChangeAnnotation());
  builder.withRow(row('Headline'));
  for (const p of headlinePanels()) builder.withPanel(p);
  builder.withRow(row('Latency: edge vs cloud ($workload)'));
  for (const p of latencyPanels()) builder.withPanel(p);
  builder.withRow(row('Load and health'));
  for (const p of trafficPanels()) builder.withPanel(p);
  builder.withRow(row('Links: configured vs measured'));
  for (const p of linkSummaryPanels()) builder.withPanel(p);
  return builder.build();
}

export function emulationDashboard(): dashboard.Dashboard {
  const builder = dashboardBase(
    'mec-emulation',
    'MEC testbed: link emulation',
    'Per link and direction: what the profile configures, what the emulation does (netem or the userspace proxy) and how faithful it is.',
  ).annotation(profileChangeAnnotation());
  for (const p of emulationPanels()) builder.withPanel(p);
  return builder.build();
}

/** File name (under grafana/dashboards/) → dashboard. */
export function allDashboards(): Record<string, dashboard.Dashboard> {
  return {
    'mec-overview.json': overviewDashboard(),
    'mec-emulation.json': emulationDashboard(),
  };
}

/** Stable JSON: two-space indent and a final newline, so regenerating an unchanged dashboard changes no byte. */
export function renderDashboard(d: dashboard.Dashboard): string {
  return `${JSON.stringify(d, null, 2)}\n`;
}
