// Listening and draining: the effects around createApp(). `start()` binds (port 0 in tests), `stop()` drains:
// readiness turns false, the listener closes (new connections are refused), in-flight requests get up to
// SHUTDOWN_TIMEOUT_SECONDS, then whatever is left is closed. `runService()` is what main.ts calls.
import { createApp, loadConfig, type ServiceApp, type ServiceDefinition } from './app.ts';
import type { ConfigSpec } from './config.ts';
import { createHttpServer, listen, type RunningServer } from './http.ts';
import { createLogger } from './logger.ts';

export type { RunningServer } from './http.ts';

export interface StartOptions {
  port?: number;
  host?: string;
}

export async function start(service: ServiceApp, options: StartOptions = {}): Promise<RunningServer> {
  const { config, state, log, site } = service;
  const server = createHttpServer(
    service.app,
    {
      // A connection must bring its request headers within the headers' bound, first byte or not.
      idleTimeoutSeconds: config.headersTimeoutSeconds,
      headersTimeoutSeconds: config.headersTimeoutSeconds,
      requestTimeoutSeconds: config.requestTimeoutSeconds,
    },
    { log, headers: { 'x-mec-site': site } },
  );
  const running = await listen(server, {
    port: options.port ?? config.port,
    host: options.host ?? config.host,
    shutdownTimeoutSeconds: config.shutdownTimeoutSeconds,
    onDrain: () => {
      state.draining = true;
      state.ready = false;
    },
  });
  state.ready = true;
  log.info('listening', { url: running.url, port: running.port });
  return {
    ...running,
    async stop() {
      const stopped = running.stop();
      // Logged once the listener is closed, so whoever reads it may rely on new connections being refused.
      log.info('draining', { timeoutSeconds: config.shutdownTimeoutSeconds });
      const result = await stopped;
      if (result.forced) log.warn('shutdown timeout: closed connections with requests still in flight');
      return result;
    },
  };
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
