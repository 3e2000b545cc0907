// The HTTP layer every process serves through (edge, cloud, the link proxy's admin API, the link agent's metrics):
// express with an express.Router of the process's routes, bodies read by express.raw with a limit, request ids,
// one access-log line and one metrics observation per request, 404/405/413/415 and every other client fault as a
// JSON error, and a node:http server whose every wait is bounded (an idle connection, slow headers, a slow body).
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import onHeaders from 'on-headers';
import type { AccessLog } from './config.ts';
import { clip, errorBody, HttpError, toHttpError } from './http-error.ts';
import type { Logger } from './logger.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface HttpRoute {
  readonly method: HttpMethod;
  /** An express route template; also the `route` of the access log and the request metrics. */
  readonly path: string;
  /**
   * Routes that take a body list the media types they accept (`''`: a request without Content-Type, as curl's
   * --data-binary sends with -H 'content-type:' or a client that sets none); the body arrives as a Buffer in
   * req.body, at most `limit` bytes (the app's maxBodyBytes by default).
   */
  readonly body?: { readonly types: readonly string[]; readonly limit?: number };
  handler(req: Request, res: Response): void | Promise<void>;
}

/** What a request looked like when it ended, for the process's own metrics. */
export interface Exchange {
  readonly route: string;
  readonly method: string;
  readonly status: number;
  readonly seconds: number;
}

export interface HttpAppOptions {
  readonly log: Logger;
  readonly routes: readonly HttpRoute[];
  readonly maxBodyBytes: number;
  readonly accessLog: AccessLog;
  /** Headers on every answer, errors and malformed requests included (the services' x-mec-site). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Where a client that hit no route should look. */
  readonly routesHint: string;
  /** Called once per request when it ends (aborted requests count as 499). */
  observe?(exchange: Exchange): void;
  /** True while the process drains: answers ask the client to reconnect elsewhere. */
  draining?(): boolean;
}

/** Requests at least this slow are logged even with ACCESS_LOG=errors. */
const SLOW_REQUEST_SECONDS = 1;
const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

interface Locals {
  requestId: string;
  started: number;
  log?: Logger;
}

export function locals(res: Response): Locals {
  return res.locals as Locals;
}

/** The request's logger, with its request id bound (made on first use: most requests log one line at most). */
export function requestLog(res: Response, log: Logger): Logger {
  const l = locals(res);
  l.log ??= log.child({ requestId: l.requestId });
  return l.log;
}

export function createHttpApp(options: HttpAppOptions): express.Express {
  const { log, accessLog } = options;
  const headers = Object.entries(options.headers ?? {});
  const app = express();
  app.disable('x-powered-by');
  // ETags would hash every echo and media body for no benefit to this testbed's clients.
  app.set('etag', false);
  // Query strings are read with URLSearchParams semantics: no nested objects built from ?a[b][c]=….
  app.set('query parser', 'simple');

  app.use((req: Request, res: Response, next: NextFunction) => {
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    const l = locals(res);
    l.requestId = requestId;
    l.started = performance.now();
    for (const [name, value] of headers) res.setHeader(name, value);
    res.setHeader('x-request-id', requestId);
    // Just before the headers go out: how long the process took, and whether the connection may be reused.
    onHeaders(res, function (this: ServerResponse) {
      this.setHeader('server-timing', `app;dur=${(performance.now() - l.started).toFixed(3)}`);
      if (options.draining?.()) this.setHeader('connection', 'close');
    });
    // 'close' follows 'finish' on every response, and comes alone when the client went away first.
    res.once('close', () => {
      const seconds = (performance.now() - l.started) / 1000;
      // 499 (nginx's "client closed request") keeps aborted requests visible without inventing a status.
      const status = res.writableFinished ? res.statusCode : 499;
      const route = req.route ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      options.observe?.({ route, method: req.method, status, seconds });
      const slow = seconds >= SLOW_REQUEST_SECONDS;
      if (accessLog === 'none' || (accessLog === 'errors' && status < 400 && !slow)) return;
      const fields = {
        requestId,
        method: req.method,
        path: clip(req.path),
        route,
        status,
        durationMs: Math.round(seconds * 1e6) / 1e3,
        remote: req.socket.remoteAddress,
      };
      if (status >= 500) log.error('request', fields);
      else if (status >= 400 || slow) log.warn('request', fields);
      else if (QUIET_ROUTES.has(route)) log.debug('request', fields);
      else log.info('request', fields);
    });
    next();
  });

  const router = express.Router();
  const methodsByPath = new Map<string, HttpMethod[]>();
  for (const route of options.routes) {
    methodsByPath.set(route.path, [...(methodsByPath.get(route.path) ?? []), route.method]);
    const handlers = route.body ? bodyReaders(route.body, options.maxBodyBytes) : [];
    router[route.method.toLowerCase() as Lowercase<HttpMethod>](route.path, ...handlers, route.handler);
  }
  // A known path with a method it does not have: 405 with Allow (express answers HEAD with the GET route).
  for (const [path, methods] of methodsByPath) {
    const allow = [...methods, ...(methods.includes('GET') ? ['HEAD'] : [])].join(', ');
    router.all(path, (req: Request) => {
      throw new HttpError(
        405,
        'method_not_allowed',
        `${clip(req.method, 20)} is not allowed on ${path}; use ${allow}`,
        { headers: { allow } },
      );
    });
  }
  app.use(router);

  app.use((req: Request) => {
    throw new HttpError(
      404,
      'not_found',
      `no route for ${clip(req.method, 20)} ${clip(req.path)}; ${options.routesHint}`,
    );
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500)
      requestLog(res, log).error('request failed', { err, method: req.method, path: clip(req.path) });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [name, value] of Object.entries(httpError.headers)) res.setHeader(name, value);
    res.status(httpError.status).json(errorBody(httpError.code, httpError.message, httpError.details));
  });
  return app;
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/** Content type, then the declared length, then express.raw: a body's cost is bounded before it is read. */
function bodyReaders(body: NonNullable<HttpRoute['body']>, maxBodyBytes: number): Middleware[] {
  const limit = body.limit ?? maxBodyBytes;
  const types = body.types.filter((t) => t !== '');
  const allowMissing = body.types.includes('');
  const accepted = body.types.map((t) => (t === '' ? 'no Content-Type' : t)).join(', ');
  const contentType: Middleware = (req, _res, next) => {
    const header = req.headers['content-type'];
    // req.is() is null for a request without a body: nothing to refuse then.
    if (header === undefined ? allowMissing : req.is(types) !== false) return next();
    next(
      new HttpError(
        415,
        'unsupported_media_type',
        `Content-Type ${header === undefined ? 'is missing' : JSON.stringify(clip(header, 60))}; this route accepts ${accepted}`,
        // The body may still be in flight: do not try to reuse the connection.
        { headers: { connection: 'close' } },
      ),
    );
  };
  // body-parser reads an oversize body to its end before answering; a declared length over the limit is
  // refused at once and the connection closed instead, so a large upload costs nothing.
  const declaredLength: Middleware = (req, _res, next) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared > limit)) return next();
    next(
      new HttpError(
        413,
        'body_too_large',
        `request body of ${declared} bytes is over the ${limit}-byte limit`,
        {
          headers: { connection: 'close' },
        },
      ),
    );
  };
  // A request without a body leaves req.body unset: handlers get an empty Buffer instead.
  const atLeastEmpty: Middleware = (req, _res, next) => {
    if (!Buffer.isBuffer(req.body)) req.body = Buffer.alloc(0);
    next();
  };
  // inflate: false answers a compressed body 415: its decoded size is not known until it is decoded.
  return [
    contentType,
    declaredLength,
    express.raw({ type: () => true, limit, inflate: false }),
    atLeastEmpty,
  ];
}

export interface ServerLimits {
  /** A connection that sends no request within this time is closed (no answer: there is no request). */
  readonly idleTimeoutSeconds: number;
  /** Longest time a client may take to send its request headers (then 408). */
  readonly headersTimeoutSeconds: number;
  /** Longest time a client may take to send a whole request (then 408). */
  readonly requestTimeoutSeconds: number;
}

/**
 * A node:http server for `app` whose waits are all bounded: no request within idleTimeoutSeconds (a connection
 * that never sends a byte), headers or body too slow (slowloris: node answers 408), an idle keep-alive connection
 * (5 s). Malformed requests, which never reach express, get the same JSON errors.
 */
export function createHttpServer(
  app: express.Express,
  limits: ServerLimits,
  options: { log: Logger; headers?: Readonly<Record<string, string>> },
): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutSeconds * 1000,
      requestTimeout: limits.requestTimeoutSeconds * 1000,
      // The timeouts above are only checked at this interval (node's default is 30 s, too coarse for them).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutSeconds * 500),
      keepAliveTimeout: 5000,
    },
    (req, res) => {
      // express's router skips every middleware, error handlers included, for a request target it cannot
      // parse, and lets its default handler answer in HTML: refuse those here, in the JSON shape.
      if (URL.canParse(req.url ?? '', 'http://host')) return app(req, res);
      const body = JSON.stringify(errorBody('bad_request', 'the request target is not a valid URL'));
      res.writeHead(400, {
        ...options.headers,
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
    },
  );
  // node's headersTimeout starts with the first byte of a request: a connection that sends nothing would stay
  // open for good. The socket's own inactivity timeout covers it; node destroys a socket whose timeout nobody
  // handles, and takes the timeout over for keep-alive once a request has come.
  server.on('connection', (socket: Socket) => socket.setTimeout(limits.idleTimeoutSeconds * 1000));
  const inFlight = new WeakMap<Socket, ServerResponse>();
  // Before the app's own listener, so a response that finishes at once is already tracked.
  server.prependListener('request', (req, res: ServerResponse) => {
    req.socket.setTimeout(0);
    inFlight.set(req.socket, res);
    res.once('finish', () => inFlight.delete(req.socket));
  });
  const extraHeaders = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const [status, code, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'request headers are too large']
          : [400, 'bad_request', 'malformed HTTP request'];
    options.log.debug('client error', { code: err.code, status });
    // A response already under way on this connection cannot be followed by another: just close.
    if (socket.writable && !inFlight.get(socket)?.headersSent) {
      const body = JSON.stringify(errorBody(code, message));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n${extraHeaders}` +
          `server-timing: app;dur=0\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroySoon();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
  return server;
}

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** http://host:port, with 127.0.0.1 when bound to every address. */
  readonly url: string;
  /** Close the listener and drain; resolves with whether the timeout forced connections shut. */
  stop(): Promise<{ forced: boolean }>;
}

/** Listens; stop() closes the listener (new connections are refused), then gives in-flight requests up to
 * shutdownTimeoutSeconds before closing what is left. `onDrain` runs first (readiness turns false). */
export async function listen(
  server: Server,
  options: { port: number; host: string; shutdownTimeoutSeconds: number; onDrain?: () => void },
): Promise<RunningServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  let stopping: Promise<{ forced: boolean }> | undefined;
  const stop = () => {
    stopping ??= new Promise((resolve) => {
      options.onDrain?.();
      const timer = setTimeout(() => {
        server.closeAllConnections();
        resolve({ forced: true });
      }, options.shutdownTimeoutSeconds * 1000);
      // close() stops accepting at once and closes idle keep-alive connections; busy ones close after their
      // response, which carries `connection: close` while draining.
      server.close(() => {
        clearTimeout(timer);
        resolve({ forced: false });
      });
      server.closeIdleConnections();
    });
    return stopping;
  };
  return { server, port: address.port, url, stop };
}
