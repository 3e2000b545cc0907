// `status`: nodes and their sites, pods, what each link agent reports as applied, netem per node, URLs. Pure:
// a snapshot of API objects in, text out (main.ts gathers the snapshot).
import type { V1ConfigMap, V1Node, V1Pod } from '@kubernetes/client-node';
import { type AgentStatus, parseStatus } from '../link-agent/status.ts';
import { PROFILE_CONFIGMAP, PROFILE_NAME_ANNOTATION, profileInConfigMap } from './link-profile.ts';
import { isPodReady, podReason } from './readiness.ts';
import { formatUrls, type UiAccess } from './urls.ts';

export const SITE_LABEL = 'mec-testbed.dev/site';
/** The agents publish one ConfigMap per node, `link-agent-status-<node>`, in mec-testbed-system. */
export const AGENT_STATUS_PREFIX = 'link-agent-status-';

export interface AgentReport {
  node: string;
  site?: string;
  profile?: string;
  backend?: string;
  /** available null: not probed yet. */
  netem?: { available: boolean | null; reason?: string; fix?: string };
  appliedAt?: string;
  idle?: string;
  error?: string;
}

/** Reads an agent's status ConfigMap (format: services/link-agent/status.ts, key status.json). */
export function agentReport(cm: V1ConfigMap): AgentReport {
  const node = (cm.metadata?.name ?? '').slice(AGENT_STATUS_PREFIX.length);
  let s: Partial<AgentStatus>;
  try {
    s = parseStatus(cm);
  } catch (err) {
    return { node, error: `unreadable status: ${(err as Error).message}` };
  }
  const report: AgentReport = { node: s.node ?? node };
  if (s.site) report.site = s.site;
  if (s.profile) report.profile = s.profile;
  if (s.backend) report.backend = s.backend;
  if (s.netem) {
    report.netem = {
      available: s.netem.available ?? null,
      ...(s.netem.message ? { reason: s.netem.message } : {}),
      ...(s.netem.fix ? { fix: s.netem.fix } : {}),
    };
  }
  if (s.lastAppliedAt) report.appliedAt = s.lastAppliedAt;
  if (s.idleReason) report.idle = s.idleReason;
  const problems = s.profileProblems ?? [];
  if (s.lastError?.message) report.error = s.lastError.message;
  else if (problems.length) report.error = `newest profile refused: ${problems.join('; ')}`;
  return report;
}

/** The nodes whose agent says netem does not work, with the agent's reason. */
export function netemProblems(reports: AgentReport[]): AgentReport[] {
  return reports.filter((r) => r.netem?.available === false);
}

/** What to tell users when netem is missing (shared by `status` and `make up`). */
export function netemAdvice(problems: AgentReport[]): string {
  if (problems.length === 0) return '';
  const nodes = problems.map(
    (p) => `  ${p.node}: ${p.netem?.reason ?? 'unavailable'}${p.netem?.fix ? ` (fix: ${p.netem.fix})` : ''}`,
  );
  return [
    'netem does not work on:',
    ...nodes,
    'kind nodes use the host kernel, so the host needs the sch_netem module:',
    '  Linux: sudo modprobe sch_netem (Ubuntu cloud kernels: sudo apt install linux-modules-extra-$(uname -r))',
    '  Docker Desktop / WSL2 / Podman machine kernels may lack it: use the userspace backend instead:',
    '  make up EMULATION=proxy (it replaces the netem backend in place)',
  ].join('\n');
}

export interface StatusSnapshot {
  context: string;
  server: string;
  nodes: V1Node[];
  pods: V1Pod[];
  agentStatus: V1ConfigMap[];
  profileConfigMap?: V1ConfigMap;
  /** The backend deployed: proxy when link-proxy pods run. */
  emulation?: 'netem' | 'proxy';
  ui: UiAccess[];
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}`.trimEnd()).join('\n');
}

export function formatStatus(s: StatusSnapshot): string {
  const out: string[] = [`Cluster: ${s.server} (context ${s.context})`, ''];

  out.push('Nodes');
  const nodeRows = [['NAME', 'SITE', 'READY', 'ADDRESS']];
  for (const n of s.nodes) {
    const ready = (n.status?.conditions ?? []).find((c) => c.type === 'Ready')?.status === 'True';
    const address = (n.status?.addresses ?? []).find((a) => a.type === 'InternalIP')?.address ?? '';
    nodeRows.push([
      n.metadata?.name ?? '?',
      n.metadata?.labels?.[SITE_LABEL] ?? '-',
      ready ? 'yes' : 'no',
      address,
    ]);
  }
  out.push(table(nodeRows));
  const sites = new Set(s.nodes.map((n) => n.metadata?.labels?.[SITE_LABEL]).filter(Boolean));
  for (const site of ['ue', 'edge', 'cloud']) {
    if (!sites.has(site))
      out.push(`  ! no node is labelled ${SITE_LABEL}=${site}: its workloads cannot be scheduled`);
  }

  out.push('', 'Pods');
  const podRows = [['NAMESPACE', 'NAME', 'NODE', 'READY', 'RESTARTS', 'STATE']];
  for (const p of s.pods) {
    const restarts = (p.status?.containerStatuses ?? []).reduce((sum, c) => sum + (c.restartCount ?? 0), 0);
    podRows.push([
      p.metadata?.namespace ?? '',
      p.metadata?.name ?? '',
      p.spec?.nodeName ?? '-',
      isPodReady(p) ? 'yes' : 'no',
      String(restarts),
      isPodReady(p) ? (p.status?.phase ?? '') : podReason(p),
    ]);
  }
  out.push(s.pods.length ? table(podRows) : '  (none: run `make up`)');

  out.push('', 'Link profile');
  const stored = profileInConfigMap(s.profileConfigMap);
  if (!s.profileConfigMap)
    out.push(`  ConfigMap ${PROFILE_CONFIGMAP.namespace}/${PROFILE_CONFIGMAP.name} not found`);
  else if (stored.ok) {
    out.push(
      `  desired: ${stored.topology.name} (ConfigMap ${PROFILE_CONFIGMAP.namespace}/${PROFILE_CONFIGMAP.name})`,
    );
  } else {
    const annotated = s.profileConfigMap.metadata?.annotations?.[PROFILE_NAME_ANNOTATION];
    out.push(`  desired: invalid${annotated ? ` (annotated ${annotated})` : ''}: ${stored.message}`);
  }
  const reports = s.agentStatus.map(agentReport).sort((a, b) => a.node.localeCompare(b.node));
  if (reports.length === 0) out.push('  no link agent has reported yet');
  else {
    const rows = [['NODE', 'SITE', 'APPLIED', 'BACKEND', 'NETEM', 'SINCE', 'NOTE']];
    for (const r of reports) {
      const netem =
        r.netem?.available === true ? 'works' : r.netem?.available === false ? 'MISSING' : 'not probed yet';
      rows.push([
        r.node,
        r.site ?? '-',
        r.profile ?? '-',
        r.backend ?? '-',
        netem,
        r.appliedAt ?? '-',
        r.error ?? r.idle ?? '',
      ]);
    }
    out.push(table(rows));
    const desired = stored.ok ? stored.topology.name : undefined;
    const behind = reports.filter((r) => desired && r.profile !== desired).map((r) => r.node);
    if (behind.length)
      out.push(`  ! not yet applied on: ${behind.join(', ')} (agents apply within seconds; see make logs)`);
  }
  // With the proxy backend the agents shape nothing and need no netem: say it once, without the fix, so a
  // working proxy testbed does not read as broken.
  const missing = netemProblems(reports);
  if (s.emulation === 'proxy' && missing.length)
    out.push(
      '',
      `netem is missing on ${missing.length} node(s); not needed: the link proxy emulates the links.`,
    );
  else {
    const advice = netemAdvice(missing);
    if (advice) out.push('', advice);
  }

  out.push('', 'URLs', formatUrls(s.ui));
  return out.join('\n');
}
