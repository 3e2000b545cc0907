// The agent's Prometheus metrics (the link proxy exports the same configured gauges with backend="proxy"), and
// its small HTTP server: GET /metrics, /healthz, /readyz.
import type { Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { createHttpApp, createHttpServer, type HttpRoute } from '../skeleton/http.ts';
import { type Logger, silentLogger } from '../skeleton/logger.ts';
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

/** The bounds on a scrape connection: idle, headers, whole request. */
const METRICS_LIMITS = { idleTimeoutSeconds: 10, headersTimeoutSeconds: 5, requestTimeoutSeconds: 10 };

/** GET /metrics, /healthz (the loop is alive), /readyz (the device matches the plan), through the skeleton's HTTP
 * layer: JSON errors, no request body accepted, bounded waits. */
export function createMetricsServer(
  metrics: AgentMetrics,
  health: Check,
  ready: Check = health,
  log: Logger = silentLogger,
): Server {
  const check =
    (probe: Check): HttpRoute['handler'] =>
    (_req, res) => {
      const h = probe();
      res.status(h.ok ? 200 : 503).json(h);
    };
  const app = createHttpApp({
    log,
    routes: [
      {
        method: 'GET',
        path: '/metrics',
        handler: async (_req, res) => {
          res.type(metrics.registry.contentType).send(await metricsText(metrics.registry));
        },
      },
      { method: 'GET', path: '/healthz', handler: check(health) },
      { method: 'GET', path: '/readyz', handler: check(ready) },
    ],
    maxBodyBytes: 0,
    accessLog: 'errors',
    routesHint: 'try /metrics, /healthz or /readyz',
  });
  return createHttpServer(app, METRICS_LIMITS, { log });
}
