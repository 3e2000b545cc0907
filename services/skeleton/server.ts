// Listening and draining: the effects around createApp(). `start()` binds (port 0 in tests), `stop()` drains:
// readiness turns false, the listener closes (new connections are refused), in-flight requests get up to
// SHUTDOWN_TIMEOUT_SECONDS, then whatever is left is closed. `runService()` is what main.ts calls.
import { createServer, IncomingMessage, type Server, ServerResponse, STATUS_CODES } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createApp, loadConfig, type ServiceApp, type ServiceDefinition } from './app.ts';
import type { ConfigSpec } from './config.ts';
import { errorBody } from './http-error.ts';
import { createLogger } from './logger.ts';

export interface RunningServer {
  readonly server: Server;
  readonly port: number;
  /** http://host:port, with 127.0.0.1 when bound to every address. */
  readonly url: string;
  /** Drain and close; resolves with whether the timeout forced connections shut. */
  stop(): Promise<{ forced: boolean }>;
}

export interface StartOptions {
  port?: number;
  host?: string;
}

/**
 * Request and response classes whose instances are born with the app's express prototypes. express's
 * app.handle() re-prototypes every req/res with Object.setPrototypeOf, which V8 makes slow (a map change and
 * deoptimised property access afterwards; about 8% of an echo's CPU); when the prototype is already the one it
 * sets, V8 does nothing. Reflect.construct with the new target runs node's own constructors on an object of
 * their map (V8 keeps their in-object property layout) with the new target's prototype; a constructor that
 * merely called IncomingMessage.call(this) would start from an empty map and cost more than it saves.
 */
export function expressMessageClasses(app: ServiceApp['app']): {
  IncomingMessage: typeof IncomingMessage;
  ServerResponse: typeof ServerResponse;
} {
  function Request(socket: Socket): IncomingMessage {
    return Reflect.construct(IncomingMessage, [socket], Request);
  }
  Request.prototype = app.request;
  function Response(req: IncomingMessage, options?: object): ServerResponse {
    return Reflect.construct(ServerResponse, [req, options], Response);
  }
  Response.prototype = app.response;
  return {
    IncomingMessage: Request as unknown as typeof IncomingMessage,
    ServerResponse: Response as unknown as typeof ServerResponse,
  };
}

export async function start(service: ServiceApp, options: StartOptions = {}): Promise<RunningServer> {
  const { config, state, log, site } = service;
  const server = createServer(
    {
      // Bound how long a slow or half-sent request may hold a connection (slowloris): node answers 408 and closes.
      headersTimeout: config.headersTimeoutSeconds * 1000,
      requestTimeout: config.requestTimeoutSeconds * 1000,
      // The timeouts above are only checked at this interval (node's default is 30 s, too coarse for them).
      connectionsCheckingInterval: Math.min(1000, config.headersTimeoutSeconds * 500),
      keepAliveTimeout: 5000,
      ...expressMessageClasses(service.app),
    },
    service.app,
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // Malformed or too-slow requests never reach express; answer them in the same JSON shape, then close.
    const [status, code, message] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [
            408,
            'request_timeout',
            'the request was not received in time (REQUEST_TIMEOUT_SECONDS/HEADERS_TIMEOUT_SECONDS)',
          ]
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers_too_large', 'request headers are too large']
          : [400, 'bad_request', 'malformed HTTP request'];
    log.debug('client error', { code: err.code, status });
    const pending = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (socket.writable && !pending?.headersSent) {
      const body = JSON.stringify(errorBody(code, message));
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\nx-mec-site: ${site}\r\nserver-timing: app;dur=0\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    }
    socket.destroySoon?.();
    setTimeout(() => socket.destroy(), 1000).unref();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? config.port, options.host ?? config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  state.ready = true;
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${address.port}`;
  log.info('listening', { url, port: address.port });

  let stopping: Promise<{ forced: boolean }> | undefined;
  const stop = () => {
    stopping ??= new Promise((resolve) => {
      state.draining = true;
      state.ready = false;
      const timer = setTimeout(() => {
        log.warn('shutdown timeout: closing connections with requests still in flight');
        server.closeAllConnections();
        resolve({ forced: true });
      }, config.shutdownTimeoutSeconds * 1000);
      // close() stops accepting at once and (node >= 19) closes idle keep-alive connections; busy ones close
      // after their response because draining responses carry `connection: close`.
      server.close(() => {
        clearTimeout(timer);
        resolve({ forced: false });
      });
      server.closeIdleConnections();
      // Logged once the listener is closed, so whoever reads it may rely on new connections being refused.
      log.info('draining', { timeoutSeconds: config.shutdownTimeoutSeconds });
    });
    return stopping;
  };
  return { server, port: address.port, url, stop };
}

/** The whole life of a service process: config, listen, drain on SIGTERM/SIGINT, exit 0. */
export async function runService<S extends ConfigSpec>(
  service: ServiceDefinition<S>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const result = loadConfig(service, env);
  if (!result.ok) {
    process.stderr.write(
      `${service.site}: invalid configuration, not starting:\n${result.errors.map((e) => `  - ${e}`).join('\n')}\n` +
        'Fix the environment variables above (the service README lists each one) and start again.\n',
    );
    process.exit(1);
  }
  const log = createLogger(result.config.logLevel, { site: service.site });
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception, exiting', { err, stack: err.stack });
    process.exit(1);
  });
  const app = createApp(service, result.config, { log });
  let running: RunningServer;
  try {
    running = await start(app);
  } catch (err) {
    log.error('cannot listen', { err, host: result.config.host, port: result.config.port });
    process.exit(1);
  }
  const onSignal = (signal: NodeJS.Signals) => {
    log.info('signal received', { signal });
    void running.stop().then(({ forced }) => {
      log.info('stopped', { forced });
      process.exit(0);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
