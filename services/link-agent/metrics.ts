// The agent's Prometheus metrics, named by the team's link emulation contract (the link proxy exports the same
// configured gauges with backend="proxy"), and its small HTTP server: GET /metrics, GET /healthz.
import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { metricsText } from '../skeleton/metrics-text.ts';
import type { Topology } from '../topology/index.ts';
import { createConfiguredLinkGauges } from '../topology/link-gauges.ts';
import type { DesiredTree } from './plan.ts';

export interface AgentMetrics {
  readonly registry: Registry;
  /** Shows what is applied now, from the profile it came from; no tree (netem missing, no profile, torn down) → no series. */
  setConfigured(tree: DesiredTree | undefined, topology: Topology | undefined): void;
  setNetemAvailable(node: string, available: boolean): void;
  /** Cumulative drops read from `tc -s -j qdisc show` for the leaf towards `to`. */
  observeDrops(from: string, to: string, cumulative: number): void;
  applied(at: Date): void;
  applyFailed(): void;
}

export function createAgentMetrics(options: { defaultMetrics?: boolean } = {}): AgentMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const configured = createConfiguredLinkGauges(registry, 'netem');
  const netem = new Gauge({
    name: 'mec_link_netem_available',
    help: 'Whether this node kernel can run netem (1) or not (0), from the start-up probe.',
    labelNames: ['node'],
    registers: [registry],
  });
  const drops = new Counter({
    name: 'mec_link_netem_drops_total',
    help: 'Packets dropped by the netem leaf towards a site (emulated loss and queue overflow).',
    labelNames: ['from', 'to'],
    registers: [registry],
  });
  const lastApply = new Gauge({
    name: 'mec_link_agent_last_apply_timestamp_seconds',
    help: 'When the agent last brought the tc tree in line with the profile and nodes.',
    registers: [registry],
  });
  const applyErrors = new Counter({
    name: 'mec_link_agent_apply_errors_total',
    help: 'Reconciles that failed (a tc command or the read-back failed).',
    registers: [registry],
  });
  applyErrors.inc(0);
  // tc's counters restart when a leaf is replaced: count the increase since the last reading.
  const lastDrops = new Map<string, number>();

  return {
    registry,
    setConfigured(tree, topology) {
      configured.show(
        tree ? topology : undefined,
        (tree?.classes ?? []).map((c) => ({
          link: c.link,
          from: tree?.site ?? '',
          to: c.to,
          impairment: c.impairment,
        })),
      );
    },
    setNetemAvailable(node, available) {
      netem.reset();
      netem.set({ node }, available ? 1 : 0);
    },
    observeDrops(from, to, cumulative) {
      const key = `${from}|${to}`;
      const before = lastDrops.get(key) ?? 0;
      const increase = cumulative >= before ? cumulative - before : cumulative;
      lastDrops.set(key, cumulative);
      drops.inc({ from, to }, increase);
    },
    applied(at) {
      lastApply.set(at.getTime() / 1000);
    },
    applyFailed() {
      applyErrors.inc();
    },
  };
}

type Check = () => { ok: boolean; [key: string]: unknown };

/** GET /metrics, /healthz (the loop is alive), /readyz (the device matches the plan); JSON errors otherwise. */
export function createMetricsServer(metrics: AgentMetrics, health: Check, ready: Check = health): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(405, { error: { code: 'method_not_allowed', message: `${req.method} is not allowed; use GET` } });
      return;
    }
    if (path === '/metrics') {
      metricsText(metrics.registry).then(
        (text) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => json(500, { error: { code: 'metrics_failed', message: err.message } }),
      );
    } else if (path === '/healthz' || path === '/readyz') {
      const h = path === '/healthz' ? health() : ready();
      json(h.ok ? 200 : 503, h);
    } else
      json(404, {
        error: { code: 'not_found', message: `no route ${path}; try /metrics, /healthz or /readyz` },
      });
  });
}
