// The check before each run: is the emulation doing what the profile says, right now? Small echo requests, one at
// a time on a kept-alive connection, to each site's raw port and through the emulated link; the difference of the
// medians is the round trip the links added, compared with the profile's. A run whose links strayed further than
// the tolerance (or 1 ms) is flagged as drifted. Then a few requests of the run's own workload on the raw port
// give its idle service time, which the prediction adds to the network's part.
import http from 'node:http';
import type { HttpRequestShape } from '../loadgen/http.ts';
import { roundTripSeconds, type Topology } from '../topology/index.ts';
import { type Calibration, DRIFT_FLOOR_SECONDS, type MeasuredSite } from './spec.ts';
import { median } from './stats.ts';

const now = () => Number(process.hrtime.bigint()) / 1e6;

/** One request, answered in full; latency in ms and the body's size. */
export function timedRequest(
  port: number,
  shape: HttpRequestShape,
  agent: http.Agent | false,
): Promise<{ ms: number; status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: shape.method,
        path: shape.path,
        agent,
        headers: {
          ...(shape.headers ?? {}),
          ...(shape.body ? { 'content-length': String(shape.body.length) } : {}),
        },
        timeout: 15_000,
      },
      (res) => {
        let bytes = 0;
        res.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        res.on('end', () => resolve({ ms: now() - t0, status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(shape.body);
  });
}

async function series(port: number, shape: (i: number) => HttpRequestShape, n: number) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    await timedRequest(port, shape(0), agent); // the handshake is not what is calibrated
    const out: Array<{ ms: number; status: number; bytes: number }> = [];
    for (let i = 1; i <= n; i++) out.push(await timedRequest(port, shape(i), agent));
    return out;
  } finally {
    agent.destroy();
  }
}

export interface SiteCalibration {
  site: MeasuredSite;
  /** The round trip the links added (emulated − raw medians), and what the profile says, ms. */
  measuredRttMs: number;
  predictedRttMs: number;
  drifted: boolean;
  /** The run's workload on the raw port, idle: median latency and response bytes. */
  serviceMs: number;
  responseBytes: number;
}

/** Whether a measured round trip strayed too far from the profile's. Pure. */
export function drifted(measuredMs: number, predictedMs: number, tolerance: number): boolean {
  return Math.abs(measuredMs - predictedMs) > Math.max(DRIFT_FLOOR_SECONDS * 1000, tolerance * predictedMs);
}

export async function calibrateSite(o: {
  site: MeasuredSite;
  topology: Topology;
  emulatedPort: number;
  rawPort: number;
  calibration: Calibration;
  workload: (i: number) => HttpRequestShape;
}): Promise<SiteCalibration> {
  const predictedRttMs = roundTripSeconds(o.topology, 'ue', o.site) * 1000;
  const echo = () => ({ method: 'GET' as const, path: '/api/v1/echo?bytes=64' });
  let measuredRttMs = Number.NaN;
  if (o.calibration.requests > 0) {
    const raw = await series(o.rawPort, echo, o.calibration.requests);
    const emulated = await series(o.emulatedPort, echo, o.calibration.requests);
    measuredRttMs = median(emulated.map((r) => r.ms)) - median(raw.map((r) => r.ms));
  }
  const service = await series(o.rawPort, o.workload, Math.max(3, Math.min(10, o.calibration.requests)));
  const bad = service.find((r) => r.status < 200 || r.status >= 300);
  if (bad)
    throw new Error(`the ${o.site}'s workload answered HTTP ${bad.status} on its raw port before the run`);
  return {
    site: o.site,
    measuredRttMs,
    predictedRttMs,
    drifted:
      Number.isFinite(measuredRttMs) && drifted(measuredRttMs, predictedRttMs, o.calibration.tolerance),
    serviceMs: median(service.map((r) => r.ms)),
    responseBytes: median(service.map((r) => r.bytes)),
  };
}
