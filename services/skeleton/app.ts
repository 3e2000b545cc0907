// The edge and cloud services' skeleton: a service is a site name, its extra config variables and its routes; this
// module adds health, readiness, metrics, the x-mec-site header and the workload timers, on the HTTP layer every
// process shares (http.ts: request ids, access logs, body limits, content types, JSON errors). `createApp()` does
// not listen (see server.ts).
import { performance } from 'node:perf_hooks';
import type express from 'express';
import type { Request, Response } from 'express';
import {
  type CommonConfig,
  type ConfigOf,
  type ConfigResult,
  type ConfigSpec,
  checkCommonConfig,
  commonConfigSpec,
  type Env,
  parseConfig,
} from './config.ts';
import { createHttpApp, type HttpMethod, type HttpRoute, requestLog } from './http.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type ServiceMetrics, type Site, type Workload } from './metrics.ts';
import { metricsText } from './metrics-text.ts';

export interface RequestContext {
  readonly requestId: string;
  readonly site: Site;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  /** Runs the workload's own work and records mec_workload_processing_seconds for it. */
  timeWorkload<T>(workload: Workload, work: () => Promise<T>): Promise<T>;
  /** The same for synchronous work. */
  timeWorkloadSync<T>(workload: Workload, work: () => T): T;
}

export interface RouteSpec {
  readonly method: HttpMethod;
  /** An express route template; also the `route` label of the request metrics. */
  readonly path: string;
  /** Routes that take a body list the media types they accept; the body arrives as a Buffer in req.body. */
  readonly body?: { readonly types: readonly string[] };
  handler(req: Request, res: Response, ctx: RequestContext): void | Promise<void>;
}

export interface ServiceDeps {
  readonly site: Site;
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
}

export interface ServiceDefinition<S extends ConfigSpec = ConfigSpec> {
  readonly site: Site;
  /** Variables this service reads on top of the common ones. */
  readonly configSpec: S;
  /** Cross-variable checks; return one message per problem. */
  check?(config: ServiceConfig<S>): string[];
  routes(config: ServiceConfig<S>, deps: ServiceDeps): RouteSpec[];
}

export type ServiceConfig<S extends ConfigSpec> = CommonConfig & ConfigOf<S>;

export function loadConfig<S extends ConfigSpec>(
  service: ServiceDefinition<S>,
  env: Env,
): ConfigResult<ServiceConfig<S>> {
  const result = parseConfig({ ...commonConfigSpec, ...service.configSpec }, env);
  if (!result.ok) return result;
  const config = result.config as ServiceConfig<S>;
  const errors = [...checkCommonConfig(config), ...(service.check?.(config) ?? [])];
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}

/** For tests: the config from `env` (defaults otherwise), or a thrown error listing every problem. */
export function configFor<S extends ConfigSpec>(
  service: ServiceDefinition<S>,
  env: Env = {},
): ServiceConfig<S> {
  const result = loadConfig(service, env);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

export interface AppState {
  /** True once listening and until draining starts. */
  ready: boolean;
  draining: boolean;
}

export interface ServiceApp<S extends ConfigSpec = ConfigSpec> {
  readonly app: express.Express;
  readonly site: Site;
  readonly config: ServiceConfig<S>;
  readonly metrics: ServiceMetrics;
  readonly log: Logger;
  readonly state: AppState;
}

export function createApp<S extends ConfigSpec>(
  service: ServiceDefinition<S>,
  config: ServiceConfig<S>,
  options: { log?: Logger } = {},
): ServiceApp<S> {
  const site = service.site;
  const log = options.log ?? createLogger(config.logLevel, { site });
  const metrics = createMetrics(site);
  const state: AppState = { ready: false, draining: false };

  const context = (res: Response): RequestContext => {
    const time = (workload: Workload, begin: number) =>
      metrics.workloadDuration.observe({ site, workload }, (performance.now() - begin) / 1000);
    return {
      requestId: (res.locals as { requestId: string }).requestId,
      site,
      metrics,
      get log() {
        return requestLog(res, log);
      },
      async timeWorkload(workload, work) {
        const begin = performance.now();
        try {
          return await work();
        } finally {
          time(workload, begin);
        }
      },
      timeWorkloadSync(workload, work) {
        const begin = performance.now();
        try {
          return work();
        } finally {
          time(workload, begin);
        }
      },
    };
  };

  const builtin: HttpRoute[] = [
    {
      method: 'GET',
      path: '/healthz',
      handler: (_req, res) => {
        res.json({ status: 'ok', site });
      },
    },
    {
      method: 'GET',
      path: '/readyz',
      handler: (_req, res) => {
        const ready = state.ready && !state.draining;
        res.status(ready ? 200 : 503).json({
          status: ready ? 'ready' : state.draining ? 'draining' : 'starting',
          site,
        });
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handler: async (_req, res) => {
        const body = await metricsText(metrics.registry);
        res.type(metrics.registry.contentType).send(body);
      },
    },
  ];
  const routes = service.routes(config, { site, metrics, log }).map(
    (spec): HttpRoute => ({
      method: spec.method,
      path: spec.path,
      ...(spec.body ? { body: spec.body } : {}),
      handler: (req, res) => spec.handler(req, res, context(res)),
    }),
  );
  const app = createHttpApp({
    log,
    routes: [...builtin, ...routes],
    maxBodyBytes: config.maxBodyBytes,
    accessLog: config.accessLog,
    headers: { 'x-mec-site': site },
    routesHint: 'see the service README for routes',
    observe: ({ route, method, status, seconds }) =>
      metrics.requestDuration.observe({ site, route, method, status_code: String(status) }, seconds),
    draining: () => state.draining,
  });
  return { app, site, config, metrics, log, state };
}
