// Helpers for tests: run a service in-process on a free port, and talk raw HTTP to it.
import { connect } from 'node:net';
import { configFor, createApp, type ServiceApp, type ServiceDefinition } from './app.ts';
import type { ConfigSpec, Env } from './config.ts';
import { silentLogger } from './logger.ts';
import { type RunningServer, start } from './server.ts';

export interface TestService<S extends ConfigSpec = ConfigSpec> extends RunningServer {
  readonly service: ServiceApp<S>;
}

/** createApp() + start() on 127.0.0.1 and a free port; logs are dropped unless MEC_TEST_LOGS=1. */
export async function startTestService<S extends ConfigSpec>(
  definition: ServiceDefinition<S>,
  env: Env = {},
): Promise<TestService<S>> {
  const config = configFor(definition, { LOG_LEVEL: 'error', ...env });
  const service = createApp(
    definition,
    config,
    process.env.MEC_TEST_LOGS === '1' ? {} : { log: silentLogger },
  );
  const running = await start(service, { port: 0, host: '127.0.0.1' });
  return { ...running, service };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connect to the server closing the connection (or to the timeout). */
  elapsedMs: number;
}

/**
 * Writes `chunks` to a fresh TCP connection (one write each, `gapMs` apart), then waits for the server to close
 * the connection or `timeoutMs`. For requests fetch() will not send: malformed, half-sent, slowloris.
 */
export function rawRequest(
  port: number,
  chunks: (string | Buffer)[],
  options: { gapMs?: number; timeoutMs?: number; endAfterWrite?: boolean } = {},
): Promise<RawResponse> {
  const { gapMs = 0, timeoutMs = 10_000 } = options;
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseRaw(Buffer.concat(received).toString('latin1'), Date.now() - started));
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (d) => received.push(d));
    socket.on('close', finish);
    socket.on('error', (err) => {
      if (
        (err as NodeJS.ErrnoException).code === 'ECONNRESET' ||
        (err as NodeJS.ErrnoException).code === 'EPIPE'
      ) {
        finish();
      } else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(err);
      }
    });
    socket.on('connect', async () => {
      for (const chunk of chunks) {
        if (done || socket.destroyed) return;
        socket.write(chunk);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
      if (options.endAfterWrite) socket.end();
    });
  });
}

function parseRaw(text: string, elapsedMs: number): RawResponse {
  const headerEnd = text.indexOf('\r\n\r\n');
  if (headerEnd === -1) return { status: 0, headers: {}, body: text, elapsedMs };
  const [statusLine = '', ...lines] = text.slice(0, headerEnd).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(' ')[1] ?? 0),
    headers,
    body: text.slice(headerEnd + 4),
    elapsedMs,
  };
}

/** The value of one sample in Prometheus text format, or 0 when the series is absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const matches = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (matches) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
