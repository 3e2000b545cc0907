// The open-model generator over HTTP: requests leave at a constant arrival rate (as k6's constant-arrival-rate
// executor sends them), on kept-alive connections or on a new TCP connection each, whether or not earlier answers
// are in. A request due while `maxInFlight` are outstanding is dropped and recorded (as k6 counts
// dropped_iterations), never queued: a queue in the client would hide the server's. Every request is reported as
// it ends, with the time it was due, its latency, status, bytes, and whether its connection was new or reused.
import http from 'node:http';

export interface HttpRequestShape {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export type Phase = 'warmup' | 'measure';

export interface RequestRecord {
  phase: Phase;
  /** When it was due, ms since the phase started. */
  dueMs: number;
  /** From writing the request to the last byte of the answer, ms (NaN when there was no answer). */
  latencyMs: number;
  /** HTTP status, or 0 when there was none (see `error`). */
  status: number;
  /** Response body bytes received. */
  bytes: number;
  /** Request body bytes sent. */
  sentBytes: number;
  connection: 'new' | 'reused';
  /** The server's own processing time from its Server-Timing header (`app;dur=`), ms; NaN when absent. */
  serverMs: number;
  /** `dropped` (client at maxInFlight), `timeout`, `unfinished` (still out after the drain) or a socket error code. */
  error: string;
}

export interface HttpOpenLoop {
  host?: string;
  port: number;
  /** Requests per second. */
  rate: number;
  warmupSeconds: number;
  seconds: number;
  connection: 'reused' | 'new';
  maxInFlight: number;
  /** The i-th request of the phase (i counts from 0 in each phase). */
  request: (i: number, phase: Phase) => HttpRequestShape;
  onRecord: (r: RequestRecord) => void;
  /** Bound on one request (then `timeout`). */
  timeoutMs?: number;
  /** How long answers may take after the last request is due before they count as `unfinished`. */
  drainMs?: number;
  /** Stops sending at once (Ctrl-C); what is out is drained. */
  signal?: AbortSignal;
}

/**
 * How long a request may take before it counts as failed (`timeout`). The analysis counts every failed request at
 * this bound, so it is one figure for the generator here and k6 on kind.
 */
export const REQUEST_TIMEOUT_MS = 10_000;

const now = () => Number(process.hrtime.bigint()) / 1e6;

export function serverTimingMs(header: string | string[] | undefined): number {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  const m = /(?:^|,)\s*app;(?:[^,]*;)?\s*dur=([\d.]+)/.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Runs the warm-up phase, then the measured one, on one pool of connections. Resolves when both are drained. */
export async function httpOpenLoop(o: HttpOpenLoop): Promise<{ sent: number; dropped: number }> {
  const agent =
    o.connection === 'reused'
      ? new http.Agent({ keepAlive: true, maxSockets: o.maxInFlight, maxFreeSockets: o.maxInFlight })
      : undefined;
  /** Each request still out, with what records it as unfinished if the drain ends first. */
  const outstanding = new Map<http.ClientRequest, () => void>();
  const timeoutMs = o.timeoutMs ?? REQUEST_TIMEOUT_MS;
  let sent = 0;
  let dropped = 0;

  const send = (shape: HttpRequestShape, phase: Phase, dueMs: number) => {
    const headers: Record<string, string> = { ...(shape.headers ?? {}) };
    if (o.connection === 'new') headers.connection = 'close';
    if (shape.body) headers['content-length'] = String(shape.body.length);
    const t0 = now();
    let done = false;
    const finish = (r: Omit<RequestRecord, 'phase' | 'dueMs' | 'sentBytes' | 'connection'>) => {
      if (done) return;
      done = true;
      outstanding.delete(req);
      o.onRecord({
        phase,
        dueMs,
        sentBytes: shape.body?.length ?? 0,
        connection: o.connection === 'reused' && req.reusedSocket ? 'reused' : 'new',
        ...r,
      });
    };
    const req = http.request(
      {
        host: o.host ?? '127.0.0.1',
        port: o.port,
        method: shape.method,
        path: shape.path,
        headers,
        agent: agent ?? false,
        timeout: timeoutMs,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        res.on('end', () =>
          finish({
            latencyMs: now() - t0,
            status: res.statusCode ?? 0,
            bytes,
            serverMs: serverTimingMs(res.headers['server-timing']),
            error: '',
          }),
        );
        res.on('error', (err: NodeJS.ErrnoException) =>
          finish({
            latencyMs: Number.NaN,
            status: 0,
            bytes,
            serverMs: Number.NaN,
            error: err.code ?? err.message,
          }),
        );
      },
    );
    req.on('timeout', () => {
      finish({ latencyMs: Number.NaN, status: 0, bytes: 0, serverMs: Number.NaN, error: 'timeout' });
      req.destroy();
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      finish({
        latencyMs: Number.NaN,
        status: 0,
        bytes: 0,
        serverMs: Number.NaN,
        error: err.code ?? err.message,
      }),
    );
    outstanding.set(req, () =>
      finish({ latencyMs: Number.NaN, status: 0, bytes: 0, serverMs: Number.NaN, error: 'unfinished' }),
    );
    req.end(shape.body);
    sent++;
  };

  const phase = (name: Phase, seconds: number) =>
    new Promise<void>((resolve) => {
      const total = Math.round(o.rate * seconds);
      const start = now() + 1;
      let i = 0;
      const tick = () => {
        const t = now();
        while (i < total && !o.signal?.aborted && start + (i * 1000) / o.rate <= t) {
          const dueMs = (i * 1000) / o.rate;
          if (outstanding.size >= o.maxInFlight) {
            dropped++;
            o.onRecord({
              phase: name,
              dueMs,
              latencyMs: Number.NaN,
              status: 0,
              bytes: 0,
              sentBytes: 0,
              connection: 'new',
              serverMs: Number.NaN,
              error: 'dropped',
            });
          } else send(o.request(i, name), name, dueMs);
          i++;
        }
        if (i >= total || o.signal?.aborted) resolve();
        else setTimeout(tick, Math.max(0, Math.min(1, start + (i * 1000) / o.rate - now())));
      };
      tick();
    });

  try {
    if (o.warmupSeconds > 0) await phase('warmup', o.warmupSeconds);
    await phase('measure', o.seconds);
    const drainBy = now() + (o.drainMs ?? 10_000);
    while (outstanding.size > 0 && now() < drainBy) await new Promise((r) => setTimeout(r, 5));
    for (const [req, unfinished] of [...outstanding]) {
      unfinished();
      req.destroy();
    }
  } finally {
    agent?.destroy();
  }
  return { sent, dropped };
}
