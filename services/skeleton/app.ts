// The shared server skeleton: a service is a site name, its extra config variables and its routes; this module
// adds health, readiness, metrics, request ids, structured request logs, the x-mec-site / Server-Timing headers,
// body limits, content-type checks and the JSON error shape. `createApp()` does not listen (see server.ts).
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  type AccessLog,
  type CommonConfig,
  type ConfigOf,
  type ConfigResult,
  type ConfigSpec,
  checkCommonConfig,
  commonConfigSpec,
  type Env,
  parseConfig,
} from './config.ts';
import { errorBody, HttpError, toHttpError } from './http-error.ts';
import { createLogger, type Logger } from './logger.ts';
import {
  createMetrics,
  type HistogramSeries,
  histogramSeries,
  type ServiceMetrics,
  type Site,
  type Workload,
} from './metrics.ts';
import { metricsText } from './metrics-text.ts';
import { compileRoutes, type HttpMethod } from './route-table.ts';

export interface RequestContext {
  readonly requestId: string;
  readonly site: Site;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  /** Runs the workload's own work and records mec_workload_processing_seconds for it. */
  timeWorkload<T>(workload: Workload, work: () => Promise<T>): Promise<T>;
  /** The same for synchronous work: no promise, so the response can go out in the same tick. */
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

/** Requests at least this slow are logged even with ACCESS_LOG=errors. */
const SLOW_REQUEST_SECONDS = 1;

const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

interface Locals {
  route: string;
  ctx: RequestContext;
}

function locals(res: Response): Locals {
  return res.locals as Locals;
}

interface ExchangeShared {
  readonly site: Site;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly state: AppState;
  readonly accessLog: AccessLog;
  readonly requestSeries: Map<string, Map<string, Map<number, HistogramSeries>>>;
  readonly workloadSeries: Map<Workload, HistogramSeries>;
}

/** One request/response: its context for handlers, and the metrics and access log written when it ends. A
 * class, so the hot path allocates one object rather than a handful of closures per request. */
class Exchange implements RequestContext {
  readonly started = performance.now();
  readonly requestId: string;
  readonly #shared: ExchangeShared;
  readonly #req: Request;
  readonly #res: Response;
  #log: Logger | undefined;
  #recorded = false;

  constructor(shared: ExchangeShared, req: Request, res: Response, requestId: string) {
    this.#shared = shared;
    this.#req = req;
    this.#res = res;
    this.requestId = requestId;
  }

  get site(): Site {
    return this.#shared.site;
  }

  get metrics(): ServiceMetrics {
    return this.#shared.metrics;
  }

  /** Made on first use: most requests only write the one access-log line. */
  get log(): Logger {
    this.#log ??= this.#shared.log.child({ requestId: this.requestId });
    return this.#log;
  }

  async timeWorkload<T>(workload: Workload, work: () => Promise<T>): Promise<T> {
    const begin = performance.now();
    try {
      return await work();
    } finally {
      this.#observeWorkload(workload, begin);
    }
  }

  timeWorkloadSync<T>(workload: Workload, work: () => T): T {
    const begin = performance.now();
    try {
      return work();
    } finally {
      this.#observeWorkload(workload, begin);
    }
  }

  #observeWorkload(workload: Workload, begin: number): void {
    const shared = this.#shared;
    let series = shared.workloadSeries.get(workload);
    if (!series) {
      series = histogramSeries(shared.metrics.workloadDuration, { site: shared.site, workload });
      shared.workloadSeries.set(workload, series);
    }
    series.observe((performance.now() - begin) / 1000);
  }

  record(aborted: boolean): void {
    if (this.#recorded) return;
    this.#recorded = true;
    const { log, accessLog } = this.#shared;
    const req = this.#req;
    const seconds = (performance.now() - this.started) / 1000;
    // 499 (nginx's "client closed request") keeps aborted requests visible without inventing a status.
    const status = aborted ? 499 : this.#res.statusCode;
    const route = locals(this.#res).route;
    requestSeries(this.#shared, route, req.method, status).observe(seconds);
    const slow = seconds >= SLOW_REQUEST_SECONDS;
    if (accessLog === 'none' || (accessLog === 'errors' && status < 400 && !slow)) return;
    const fields = {
      requestId: this.requestId,
      method: req.method,
      path: req.path,
      route,
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      remote: req.socket.remoteAddress,
    };
    if (status >= 500) log.error('request', fields);
    else if (status >= 400 || slow) log.warn('request', fields);
    else if (route === '/healthz' || route === '/readyz' || route === '/metrics')
      log.debug('request', fields);
    else log.info('request', fields);
  }
}

/** The request-duration series of one route/method/status, resolved once (histogramSeries) and kept by route,
 * then method, then status so the hot path builds no key. Bounded like the series themselves (route templates,
 * the methods node parses, HTTP statuses). */
function requestSeries(
  shared: ExchangeShared,
  route: string,
  method: string,
  status: number,
): HistogramSeries {
  let byMethod = shared.requestSeries.get(route);
  if (!byMethod) {
    byMethod = new Map();
    shared.requestSeries.set(route, byMethod);
  }
  let byStatus = byMethod.get(method);
  if (!byStatus) {
    byStatus = new Map();
    byMethod.set(method, byStatus);
  }
  let series = byStatus.get(status);
  if (!series) {
    series = histogramSeries(shared.metrics.requestDuration, {
      site: shared.site,
      route,
      method,
      status_code: String(status),
    });
    byStatus.set(status, series);
  }
  return series;
}

function onResponseClose(this: Response): void {
  (locals(this).ctx as Exchange).record(!this.writableFinished);
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
  const accessLog = config.accessLog;
  const app = express();
  app.disable('x-powered-by');
  // ETags would hash every echo and media body for no benefit to this testbed's clients.
  app.set('etag', false);

  // Routing is one table lookup (route-table.ts), set once the routes are known (below).
  let dispatch: Middleware = (_req, _res, next) => next();
  const shared: ExchangeShared = {
    site,
    log,
    metrics,
    state,
    accessLog,
    requestSeries: new Map(),
    workloadSeries: new Map(),
  };
  // Server-Timing must be set just before the headers go out: override writeHead once on this app's response
  // prototype (express gives every response that prototype) instead of patching each response.
  const writeHead = app.response.writeHead;
  app.response.writeHead = function (this: Response, ...args: unknown[]) {
    const exchange = (this.locals as Partial<Locals> | undefined)?.ctx as Exchange | undefined;
    if (exchange && !this.headersSent) {
      this.setHeader('server-timing', `app;dur=${(performance.now() - exchange.started).toFixed(3)}`);
      // While draining, ask keep-alive clients to reconnect elsewhere instead of reusing this connection.
      if (state.draining) this.setHeader('connection', 'close');
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof app.response.writeHead;

  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const exchange = new Exchange(shared, req, res, requestId);
    res.locals.route = 'unmatched';
    res.locals.ctx = exchange;
    res.setHeader('x-mec-site', site);
    res.setHeader('x-request-id', requestId);
    // 'close' follows 'finish' on every response, and comes alone when the client went away first.
    // `on`, not `once`: 'close' comes once per response anyway, and once() wraps and later removes the listener.
    res.on('close', onResponseClose);
    dispatch(req, res, next);
  });

  const builtin: RouteSpec[] = [
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
  const table = compileRoutes(
    [...builtin, ...service.routes(config, { site, metrics, log })].map((spec) => ({
      method: spec.method,
      path: spec.path,
      value: compileHandler(spec, config.maxBodyBytes),
    })),
  );
  dispatch = (req, res, next) => {
    const match = table.match(req.method, req.path);
    if (match.kind === 'none') {
      next();
      return;
    }
    locals(res).route = match.path;
    if (match.kind === 'method') {
      const { allow, path } = match;
      next(
        new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${path}; use ${allow}`, {
          allow,
        }),
      );
      return;
    }
    req.params = match.params;
    match.value(req, res, next);
  };

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(
      new HttpError(
        404,
        'not_found',
        `no route for ${req.method} ${req.path}; see the service README for routes`,
      ),
    );
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const httpError = toHttpError(err);
    const ctx = locals(res).ctx;
    if (httpError.status >= 500)
      ctx?.log.error('request failed', { err, method: req.method, path: req.path });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(httpError.headers)) res.setHeader(name, value);
    // After 413/415 the rest of the body may still be in flight: do not try to reuse the connection.
    if (httpError.status === 413 || httpError.status === 415) res.setHeader('connection', 'close');
    res.status(httpError.status).json(errorBody(httpError.code, httpError.message));
  });

  return { app, site, config, metrics, log, state };
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/** The route's handler with its body checks in front; sync throws and rejected promises go to `next`. */
function compileHandler(spec: RouteSpec, maxBodyBytes: number): Middleware {
  const run: Middleware = (req, res, next) => {
    try {
      const result = spec.handler(req, res, locals(res).ctx);
      if (result instanceof Promise) result.catch(next);
    } catch (err) {
      next(err);
    }
  };
  if (!spec.body) return run;
  const contentType = requireContentType(spec.body.types);
  const body = readBody(maxBodyBytes);
  return (req, res, next) =>
    contentType(req, res, (err?: unknown) => {
      if (err) return next(err);
      body(req, res, (err2?: unknown) => (err2 ? next(err2) : run(req, res, next)));
    });
}

function requireContentType(types: readonly string[]) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const header = req.get('content-type');
    const mediaType = header?.split(';')[0]?.trim().toLowerCase();
    if (!mediaType || !types.includes(mediaType)) {
      next(
        new HttpError(
          415,
          'unsupported_media_type',
          `Content-Type ${header ? JSON.stringify(header) : 'is missing'}; this route accepts ${types.join(' or ')}`,
        ),
      );
      return;
    }
    next();
  };
}

/**
 * Reads the body into req.body (a Buffer), at most `limit` bytes. Unlike body-parser, which reads off the rest of
 * an oversize body before answering, this answers 413 as soon as the limit is passed and lets the connection
 * close (the error handler sends `connection: close`), so a large upload costs us no more than `limit` bytes.
 */
function readBody(limit: number) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const encoding = (req.get('content-encoding') ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      next(
        new HttpError(
          415,
          'unsupported_encoding',
          `Content-Encoding ${encoding} is not accepted; send the body unencoded`,
        ),
      );
      return;
    }
    const declared = req.get('content-length');
    if (declared !== undefined && Number(declared) > limit) {
      next(
        new HttpError(
          413,
          'body_too_large',
          `request body of ${declared} bytes is over the ${limit}-byte limit (MAX_BODY_BYTES)`,
        ),
      );
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;
    const settle = (err?: HttpError) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      if (err) {
        req.pause();
        next(err);
      } else {
        req.body = Buffer.concat(chunks, received);
        next();
      }
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        settle(
          new HttpError(
            413,
            'body_too_large',
            `request body is over the ${limit}-byte limit (MAX_BODY_BYTES)`,
          ),
        );
      } else {
        chunks.push(chunk);
      }
    };
    req.on('data', onData);
    req.once('end', () => settle());
    // A client that goes away mid-body: nobody is left to answer, but the chain must not hang on to the request.
    req.once('error', () =>
      settle(
        new HttpError(
          400,
          'request_aborted',
          'the client closed the connection before the body was complete',
        ),
      ),
    );
  };
}
