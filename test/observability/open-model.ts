// A small open-model load generator (what k6's constant-arrival-rate does): requests start on a fixed
// schedule whatever the responses do, so a slow site cannot receive less traffic and look better. Keep-alive
// connections, as k6 uses by default. Bounded: a duration and a cap on requests in flight.
import { Agent, request } from 'node:http';

export interface Target {
  site: string;
  workload: string;
  /** Requests per second. */
  rate: number;
  /** Each call returns the next request (so media can pick segments, inspect can send a body). */
  next: () => { path: string; method?: string; body?: Buffer; headers?: Record<string, string> };
  baseUrl: string;
  name: string;
}

export interface Result {
  site: string;
  workload: string;
  name: string;
  method: string;
  status: number;
  seconds: number;
  error?: string;
}

export interface RunOptions {
  targets: Target[];
  durationMs: number;
  maxInFlight?: number;
  onResult: (r: Result) => void;
}

export async function runOpenModel({ targets, durationMs, maxInFlight = 256, onResult }: RunOptions) {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const started = performance.now();
  const sent = targets.map(() => 0);
  let inFlight = 0;
  let dropped = 0;
  const pending = new Set<Promise<void>>();

  const fire = (t: Target) => {
    const { path, method = 'GET', body, headers } = t.next();
    const url = new URL(path, t.baseUrl);
    const begin = performance.now();
    inFlight++;
    const p = new Promise<void>((resolve) => {
      const done = (status: number, error?: string) => {
        inFlight--;
        onResult({
          site: t.site,
          workload: t.workload,
          name: t.name,
          method,
          status,
          seconds: (performance.now() - begin) / 1000,
          ...(error ? { error } : {}),
        });
        resolve();
      };
      const req = request(url, { method, agent, headers: { ...headers }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on('end', () => done(res.statusCode ?? 0));
        res.on('error', (e) => done(0, e.message));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => done(0, e.message));
      req.end(body);
    });
    pending.add(p);
    void p.then(() => pending.delete(p));
  };

  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const elapsed = performance.now() - started;
      const at = Math.min(elapsed, durationMs) / 1000;
      targets.forEach((t, i) => {
        const due = Math.floor(at * t.rate);
        while ((sent[i] ?? 0) < due) {
          sent[i] = (sent[i] ?? 0) + 1;
          if (inFlight >= maxInFlight) dropped++;
          else fire(t);
        }
      });
      if (elapsed >= durationMs) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  await Promise.all(pending);
  agent.destroy();
  return { sent: sent.reduce((a, b) => a + b, 0), dropped };
}
