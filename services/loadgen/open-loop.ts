// The open-model generator over raw TCP: an open-loop stream of small request/response round trips over a pool
// of warm connections on loopback. Open loop because a closed loop (send the next request when the answer is in)
// slows down exactly when the emulator is late, and hides its tail. The link proxy's fidelity benchmark uses it
// (bench/link-fidelity.ts times every round trip); http.ts beside it is the same model over HTTP, for experiments.
import net from 'node:net';

export const MESSAGE = 64;
/** Measured requests and warm-up requests carry different bytes, so a packet capture can tell them apart. */
export const MEASURED_BYTE = 98;
export const WARMUP_BYTE = 97;

/** How long the last answers may take before the run ends without them (a stuck emulator ends the bench). */
const DRAIN_MS = 10_000;
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

export interface OpenLoop {
  port: number;
  /** Requests per second, each on an idle connection of the pool, one outstanding per connection. */
  rate: number;
  seconds: number;
  /** Connections; a request due when none is idle is skipped and counted (printed), never queued. */
  poolSize: number;
  /** Runs once every connection is warm, before the first measured request. */
  afterWarm?: () => Promise<void>;
  /** Collects each connection's local port, to find its packets in a capture. */
  clientPorts?: Set<number>;
  /** Runs when sending starts; what it returns runs once the last answer is in (a scraper, a lag monitor). */
  during?: () => () => void;
}

/** A connection to the emulator on loopback, Nagle off (each request leaves at once). */
export async function connect(port: number): Promise<net.Socket> {
  return await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(c));
    c.once('error', reject);
  });
}

/**
 * Requests at `rate`/s for `seconds`. Every connection first carries one warm-up request (so no handshake is
 * measured and the emulator's path is compiled). Returns the round trips in ms, as this process saw them,
 * sorted.
 */
export async function openLoop(o: OpenLoop): Promise<number[]> {
  const pool: net.Socket[] = [];
  const idle: net.Socket[] = [];
  const pending = new Map<net.Socket, { t0: number; got: number }>();
  const rtts: number[] = [];
  const payload = Buffer.alloc(MESSAGE, MEASURED_BYTE);
  for (let i = 0; i < o.poolSize; i++) {
    const s = await connect(o.port);
    o.clientPorts?.add(s.localPort as number);
    s.on('data', (d: Buffer) => {
      const p = pending.get(s);
      if (!p) return;
      p.got += d.length;
      if (p.got >= MESSAGE) {
        rtts.push(now() - p.t0);
        pending.delete(s);
        idle.push(s);
      }
    });
    pool.push(s);
  }
  await Promise.all(
    pool.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.once('data', () => resolve());
          s.write(Buffer.alloc(MESSAGE, WARMUP_BYTE));
        }),
    ),
  );
  idle.push(...pool);
  // The warm-up wrote to every connection at once (a burst of releases due together), so whatever watches
  // the emulator's own lateness starts here.
  await o.afterWarm?.();
  const total = Math.round(o.rate * o.seconds);
  const start = now() + 5;
  let sent = 0;
  let skipped = 0;
  const stop = o.during?.();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      while (sent < total && start + (sent * 1000) / o.rate <= t) {
        const s = idle.pop();
        sent++;
        if (!s) {
          skipped++;
          continue;
        }
        pending.set(s, { t0: now(), got: 0 });
        s.write(payload);
      }
      if (sent >= total) {
        const drainBy = now() + DRAIN_MS;
        const wait = () => (pending.size === 0 || now() > drainBy ? resolve() : setTimeout(wait, 5));
        wait();
      } else setTimeout(tick, 1);
    };
    tick();
  });
  stop?.();
  for (const s of pool) s.destroy();
  if (skipped > 0) console.error(`  (${skipped} requests skipped: pool of ${o.poolSize} exhausted)`);
  if (pending.size > 0)
    console.error(`  (${pending.size} requests unanswered ${DRAIN_MS / 1000} s after the last)`);
  return rtts.sort((a, b) => a - b);
}
