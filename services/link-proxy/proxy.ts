// The link proxy's runtime: listeners, connections and the two pipes of each connection. Every decision
// (when a chunk leaves, how the handshake is timed) is made in schedule.ts; this file reads sockets,
// applies those decisions on the scheduler (timer.ts), and keeps the books (metrics, stats, faults).
import net from 'node:net';
import {
  type DirectedLink,
  type Impairment,
  pathBetween,
  pathImpairment,
  type Topology,
} from '../topology/index.ts';
import type { Rng } from './jitter.ts';
import type { LinkLabels, ProxyMetrics } from './metrics.ts';
import {
  type BucketState,
  bucketFor,
  controlDelayNs,
  decideChunk,
  establishedAt,
  fullBucket,
  type Hop,
  handshake,
  type LossMode,
  sentAt,
} from './schedule.ts';
import { nowNs, type Scheduler, type TimerHandle } from './timer.ts';

/** A listener: connections to `listenHost:listenPort` cross the path from→to, then reach the upstream. */
export interface RouteSpec {
  listenHost: string;
  listenPort: number;
  from: string;
  to: string;
  upstreamHost: string;
  upstreamPort: number;
}

export const FAULT_TYPES = ['reset', 'timeout', 'refuse'] as const;
export type FaultType = (typeof FAULT_TYPES)[number];
/**
 * reset   — every open connection crossing the link is reset (RST both ways), and new ones right after accept;
 * timeout — a black hole: nothing crosses (data waits, new connections are never dialled upstream) until
 *           cleared, when held data flows again as TCP's retransmissions would deliver it;
 * refuse  — the route stops listening, so new connections are refused (ECONNREFUSED); open ones live on.
 */
export const FAULT_HELP: Record<FaultType, string> = {
  reset: 'reset open connections and every new one',
  timeout: 'black hole: nothing crosses until cleared (then held data flows)',
  refuse: 'stop listening: new connections are refused, open ones live on',
};

// A connection direction buffers at most this much before it stops reading its source (a socket buffer).
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
const LOW_WATER_BYTES = 1024 * 1024;

/** A directed link's shared state: its bucket is shared by every route and connection crossing it. */
interface LinkRuntime {
  link: DirectedLink;
  hop: Hop;
  bucket: BucketState | null;
}

interface DirectionPlan {
  labels: LinkLabels;
  links: LinkRuntime[];
  hops: Hop[];
  impairment: Impairment;
}

interface RoutePlan {
  forward: DirectionPlan;
  reverse: DirectionPlan;
}

export interface ProxyOptions {
  scheduler: Scheduler;
  metrics: ProxyMetrics;
  rng: Rng;
  lossMode: LossMode;
  /** A connection over which nothing crosses for this long is closed (0: never). */
  idleTimeoutMs: number;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

/** Route plans for a topology, or the reason the routes cannot be served by it. Pure but for the clock. */
export function planRoutes(
  topology: Topology,
  routes: readonly RouteSpec[],
  now: number,
): { ok: true; plans: RoutePlan[] } | { ok: false; problems: Array<{ path: string; message: string }> } {
  const shared = new Map<string, LinkRuntime>();
  for (const link of topology.links) {
    const bucket = bucketFor(link.impairment.rateBitsPerSecond);
    shared.set(`${link.from}->${link.to}`, {
      link,
      hop: { impairment: link.impairment, bucket },
      bucket: bucket ? fullBucket(bucket, now) : null,
    });
  }
  const problems: Array<{ path: string; message: string }> = [];
  const plans: RoutePlan[] = [];
  // Both directions of a route carry the forward path's name (link="ue-edge+edge-cloud", from/to swapped),
  // as a single link carries its one name both ways.
  const direction = (from: string, to: string, link: string): DirectionPlan => {
    const links = pathBetween(topology, from, to).map((l) => shared.get(`${l.from}->${l.to}`) as LinkRuntime);
    return {
      labels: { link, from, to },
      links,
      hops: links.map((l) => l.hop),
      impairment: pathImpairment(topology, from, to),
    };
  };
  for (const r of routes) {
    const missing = [r.from, r.to].filter((s) => !topology.sites.includes(s));
    if (missing.length > 0) {
      problems.push({
        path: 'sites',
        message: `route ${r.listenPort} (${r.from}->${r.to}) needs site(s) ${missing.join(', ')}, which this profile does not declare`,
      });
      continue;
    }
    const name = pathBetween(topology, r.from, r.to)
      .map((l) => l.link)
      .join('+');
    plans.push({ forward: direction(r.from, r.to, name), reverse: direction(r.to, r.from, name) });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, plans };
}

interface Queued {
  data: Buffer | null; // null: the sender's FIN
  releaseNs: number;
  arrivalNs: number;
}

/** One direction of one connection: reads `src`, delays, writes `dst` in order. */
class Pipe {
  private readonly queue: Queued[] = [];
  private pre: Array<{ data: Buffer | null; arrivalNs: number }> | null;
  private queuedBytes = 0;
  private lastReleaseNs = 0;
  private timer: TimerHandle | undefined;
  private establishTimer: TimerHandle | undefined;
  private paused = false;
  /** A 'drain' listener waits on the destination (one at a time). */
  private drainArmed = false;
  establishedNs = 0;
  private metricLabels: LinkLabels | undefined;
  private bytesSeries: { inc(n: number): void } | undefined;
  private delaySeries: { observe(v: number): void } | undefined;
  dst: net.Socket | null = null;
  bytes = 0;

  private readonly conn: Connection;
  readonly forward: boolean;
  readonly src: () => net.Socket | null;

  constructor(conn: Connection, forward: boolean, src: () => net.Socket | null) {
    this.conn = conn;
    this.forward = forward;
    this.src = src;
    // The forward pipe holds what the client sends until the emulated handshake completes (see schedule.ts).
    this.pre = forward ? [] : null;
  }

  private plan(): DirectionPlan {
    return this.forward ? this.conn.route.plan.forward : this.conn.route.plan.reverse;
  }

  push(data: Buffer | null, arrivalNs: number): void {
    if (this.pre) {
      this.pre.push({ data, arrivalNs });
      this.account(data?.length ?? 0);
      return;
    }
    this.decide(data, arrivalNs);
  }

  /**
   * The connection is set up from the client's side at `atNs` (the SYN-ACK's arrival, usually ahead): what it
   * sent until then counts as sent at that moment, so it is held here until then, not handed to the links early.
   * The links' buckets are shared by every connection and see arrivals in time order: a chunk reserved at a
   * future time would hold back everyone else's traffic on the link until then (it did: a connection left
   * mid-handshake under a slow profile delayed every new one on the link by that profile's delay).
   */
  establish(atNs: number): void {
    this.establishedNs = atNs;
    if (atNs <= nowNs()) this.release();
    else this.establishTimer = this.conn.proxy.options.scheduler.at(atNs, this.release);
  }

  private readonly release = (): void => {
    this.establishTimer = undefined;
    const held = this.pre ?? [];
    this.pre = null;
    for (const h of held) {
      this.account(-(h.data?.length ?? 0));
      this.decide(h.data, h.arrivalNs);
    }
  };

  private decide(data: Buffer | null, arrivalNs: number): void {
    const plan = this.plan();
    const p = this.conn.proxy.options;
    const d = decideChunk({
      hops: plan.hops,
      buckets: plan.links.map((l) => l.bucket),
      bytes: data?.length ?? 0,
      sentNs: sentAt(arrivalNs, this.establishedNs),
      previousReleaseNs: this.lastReleaseNs,
      rng: p.rng,
      lossMode: p.lossMode,
    });
    plan.links.forEach((l, i) => {
      l.bucket = d.buckets[i] ?? null;
    });
    this.lastReleaseNs = d.releaseNs;
    const q: Queued = { data, releaseNs: d.releaseNs, arrivalNs };
    this.queue.push(q);
    this.account(data?.length ?? 0);
    this.arm();
  }

  private account(delta: number): void {
    this.queuedBytes += delta;
    const src = this.src();
    if (!src) return;
    if (!this.paused && this.queuedBytes > HIGH_WATER_BYTES) {
      this.paused = true;
      src.pause();
    } else if (this.paused && this.queuedBytes < LOW_WATER_BYTES) {
      // Little held here, but the destination's own buffer is full: resume once it drains. Without the
      // listener a source paused for our queue stayed paused for good (a bulk upload to a slow reader stalled).
      if (this.dst?.writableNeedDrain) this.awaitDrain(this.dst);
      else {
        this.paused = false;
        src.resume();
      }
    }
  }

  private awaitDrain(dst: net.Socket): void {
    if (this.drainArmed) return;
    this.drainArmed = true;
    dst.once('drain', () => {
      this.drainArmed = false;
      this.account(0);
    });
  }

  private arm(): void {
    const head = this.queue[0];
    if (this.timer || !head) return;
    // Due already (no delay configured, or a chunk queued behind one just released): write it in this
    // turn of the event loop rather than the next, a hop the link does not have.
    if (head.releaseNs <= nowNs()) {
      this.flush();
      return;
    }
    this.timer = this.conn.proxy.options.scheduler.at(head.releaseNs, this.flush);
  }

  readonly flush = (): void => {
    this.timer = undefined;
    if (this.conn.route.stalled || !this.dst) return; // a black hole, or not dialled yet
    const now = nowNs();
    const { bytes: bytesSeries, delay: delaySeries } = this.series();
    // What the scheduler counts as due (it runs callbacks a bounded lead early to cancel its own lateness).
    const dueBy = now + this.conn.proxy.options.scheduler.leadNs;
    while (this.queue.length > 0 && (this.queue[0] as Queued).releaseNs <= dueBy) {
      const q = this.queue.shift() as Queued;
      if (q.data === null) this.dst.end();
      else {
        if (!this.dst.destroyed) this.dst.write(q.data);
        this.bytes += q.data.length;
        bytesSeries.inc(q.data.length);
        this.account(-q.data.length);
      }
      delaySeries.observe((now - q.arrivalNs) / 1e9);
    }
    if (this.dst.writableNeedDrain && !this.paused) {
      this.paused = true;
      this.src()?.pause();
      this.awaitDrain(this.dst);
    }
    this.arm();
  };

  /** The metric series of this pipe's labels (prom-client hashes a label set per call: resolved once per plan). */
  private series(): { bytes: { inc(n: number): void }; delay: { observe(v: number): void } } {
    const labels = this.plan().labels;
    if (labels !== this.metricLabels) {
      const m = this.conn.proxy.options.metrics;
      this.metricLabels = labels;
      this.bytesSeries = m.bytes.labels(labels);
      this.delaySeries = m.addedDelay.labels(labels);
    }
    return {
      bytes: this.bytesSeries as { inc(n: number): void },
      delay: this.delaySeries as { observe(v: number): void },
    };
  }

  /** Nothing held: every byte read has been written. */
  get empty(): boolean {
    return this.queue.length === 0 && (this.pre?.length ?? 0) === 0;
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.establishTimer?.cancel();
    this.establishTimer = undefined;
  }
}

/**
 * Ends a socket with an RST. Node leaves the handle open forever if resetAndDestroy() follows end() (seen on
 * Node 24), so a socket that already sent its FIN is simply destroyed.
 */
function abort(socket: net.Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded || socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

class Connection {
  upstream: net.Socket | null = null;
  readonly fwd: Pipe;
  readonly rev: Pipe;
  readonly proxy: LinkProxy;
  readonly route: Route;
  readonly client: net.Socket;
  /** Metric labels as of the accept, so the active-connections gauge goes back down on the same series. */
  readonly labels: LinkLabels;
  private dialTimer: TimerHandle | undefined;
  private upstreamConnected = false;
  waitingDial = false;
  closed = false;
  /** The idle timeout ended it with a FIN; the next one closes it. */
  private idleEnded = false;

  constructor(proxy: LinkProxy, route: Route, client: net.Socket) {
    this.proxy = proxy;
    this.route = route;
    this.client = client;
    this.labels = route.plan.forward.labels;
    this.fwd = new Pipe(this, true, () => this.client);
    this.rev = new Pipe(this, false, () => this.upstream);
    this.rev.dst = client;
  }

  start(acceptNs: number): void {
    const o = this.proxy.options;
    const c = this.client;
    c.setNoDelay(true);
    c.on('data', (chunk: Buffer) => this.fwd.push(chunk, nowNs()));
    c.on('end', () => this.fwd.push(null, nowNs()));
    c.on('error', () => {}); // reported by 'close' with hadError
    c.on('close', (hadError: boolean) => (hadError ? this.reset() : this.maybeFinish()));
    if (o.idleTimeoutMs > 0) {
      // Activity on the client's socket is traffic either way (what comes back is written to it).
      c.setTimeout(o.idleTimeoutMs);
      c.on('timeout', () => this.onIdle());
    }
    const forward = controlDelayNs(this.route.plan.forward.hops, o.rng, o.lossMode, true);
    const { dialAtNs } = handshake(acceptNs, forward);
    this.dialTimer = o.scheduler.at(dialAtNs, () => this.dial());
  }

  /** The SYN reached the server: dial it (unless the route is a black hole; then when it is cleared). */
  dial(): void {
    this.dialTimer = undefined;
    if (this.closed) return;
    if (this.route.stalled) {
      this.waitingDial = true;
      return;
    }
    this.waitingDial = false;
    const o = this.proxy.options;
    const up = net.connect({
      host: this.route.spec.upstreamHost,
      port: this.route.spec.upstreamPort,
      allowHalfOpen: true,
      noDelay: true,
    });
    this.upstream = up;
    // The server's kernel answers a SYN at once; our dial's own cost (a syscall and an event-loop turn,
    // more on a loaded host) is not the link's, so the SYN-ACK counts as leaving when the dial started.
    // Nothing is written before the dial completes all the same (the pipe has no destination until then).
    const dialStartNs = nowNs();
    up.on('connect', () => {
      this.upstreamConnected = true;
      const reverse = controlDelayNs(this.route.plan.reverse.hops, o.rng, o.lossMode);
      this.fwd.dst = up;
      this.fwd.establish(establishedAt(dialStartNs, reverse));
      this.fwd.flush();
    });
    up.on('data', (chunk: Buffer) => this.rev.push(chunk, nowNs()));
    up.on('end', () => this.rev.push(null, nowNs()));
    up.on('error', (err: NodeJS.ErrnoException) => {
      if (this.upstreamConnected) return; // reported by 'close' with hadError
      // The server refused or is unreachable: the client learns it one reverse delay later, as an RST.
      o.log('warn', 'upstream dial failed', { route: this.route.name, error: err.code ?? err.message });
      const back = controlDelayNs(this.route.plan.reverse.hops, o.rng, o.lossMode);
      o.scheduler.at(nowNs() + back, () => this.reset());
    });
    up.on('close', (hadError: boolean) => {
      if (!this.upstreamConnected) return;
      if (hadError) this.reset();
      else this.maybeFinish();
    });
  }

  /**
   * Nothing crossed for IDLE_TIMEOUT_SECONDS: end it with a FIN both ways, and let go of it (close both
   * sockets) one timeout later if a peer ignored the FIN. Bytes held here, or a black hole, are not idleness.
   */
  private onIdle(): void {
    const ms = this.proxy.options.idleTimeoutMs;
    if (this.closed) return;
    if (this.route.stalled || !this.idle) {
      this.client.setTimeout(ms);
      return;
    }
    if (this.idleEnded) {
      this.reset();
      return;
    }
    this.idleEnded = true;
    this.end();
    this.client.setTimeout(ms);
  }

  private maybeFinish(): void {
    if (this.client.destroyed && (this.upstream?.destroyed ?? true)) this.finish();
  }

  /** One side broke (or a reset fault): reset both at once. */
  reset(): void {
    abort(this.client);
    if (this.upstream) abort(this.upstream);
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.dialTimer?.cancel();
    this.fwd.cancel();
    this.rev.cancel();
    this.route.connections.delete(this);
    this.proxy.options.metrics.activeConnections.dec(this.labels);
  }

  get idle(): boolean {
    return this.fwd.empty && this.rev.empty;
  }

  /** Graceful end: FIN both ways (a keep-alive client sees the server close an idle connection). */
  end(): void {
    this.client.end();
    this.upstream?.end();
  }

  /** A black hole was cleared: dial if the SYN was held, and let held data go. */
  resume(): void {
    if (this.waitingDial) this.dial();
    this.fwd.flush();
    this.rev.flush();
  }
}

class Route {
  readonly connections = new Set<Connection>();
  readonly server: net.Server;
  listening = false;
  stalled = false;
  private boundPort: number | undefined;
  totalConnections = 0;

  readonly proxy: LinkProxy;
  readonly spec: RouteSpec;
  plan: RoutePlan;

  constructor(proxy: LinkProxy, spec: RouteSpec, plan: RoutePlan) {
    this.proxy = proxy;
    this.spec = spec;
    this.plan = plan;
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.accept(socket));
  }

  get name(): string {
    return `${this.spec.listenHost}:${this.spec.listenPort} ${this.spec.from}->${this.spec.to} ${this.spec.upstreamHost}:${this.spec.upstreamPort}`;
  }

  /** The undirected links this route crosses (fault targets). */
  links(): string[] {
    return this.plan.forward.links.map((l) => l.link.link);
  }

  private accept(socket: net.Socket): void {
    const acceptNs = nowNs();
    const m = this.proxy.options.metrics;
    m.connections.inc(this.plan.forward.labels);
    this.totalConnections++;
    if (this.proxy.faultsOn(this).includes('reset')) {
      abort(socket);
      return;
    }
    const conn = new Connection(this.proxy, this, socket);
    this.connections.add(conn);
    m.activeConnections.inc(this.plan.forward.labels);
    conn.start(acceptNs);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.server.once('error', onError);
      // After a refuse fault, listen again on the port first bound (which matters when the spec said 0).
      this.server.listen(this.boundPort ?? this.spec.listenPort, this.spec.listenHost, () => {
        this.server.off('error', onError);
        this.listening = true;
        this.boundPort = this.port();
        resolve();
      });
    });
  }

  /** Stops accepting at once; open connections live on (server.close's callback would wait for them). */
  stopListening(): Promise<void> {
    this.listening = false;
    this.server.close();
    return Promise.resolve();
  }

  /** The port it actually listens on (tests bind port 0). */
  port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : (this.boundPort ?? this.spec.listenPort);
  }
}

export interface FaultState {
  link: string;
  type: FaultType;
  sinceMs: number;
}

export class LinkProxy {
  readonly routes: Route[] = [];
  topology: Topology;
  profileDocument: unknown;
  private readonly faults = new Map<string, FaultState>();
  readonly options: ProxyOptions;

  constructor(
    options: ProxyOptions,
    topology: Topology,
    specs: readonly RouteSpec[],
    profileDocument?: unknown,
  ) {
    this.options = options;
    const planned = planRoutes(topology, specs, nowNs());
    if (!planned.ok) throw new Error(planned.problems.map((p) => p.message).join('; '));
    this.topology = topology;
    this.profileDocument = profileDocument;
    specs.forEach((spec, i) => {
      this.routes.push(new Route(this, spec, planned.plans[i] as RoutePlan));
    });
    this.publishConfigured();
  }

  async start(): Promise<void> {
    for (const r of this.routes) await r.listen();
  }

  /**
   * Swaps in a validated topology for every route at once, or changes nothing and says why. Chunks already
   * scheduled keep their release time (they are on the wire); the next chunk of every connection crosses
   * the new links, whose buckets start full.
   */
  setTopology(
    topology: Topology,
    profileDocument?: unknown,
  ): { ok: true } | { ok: false; problems: Array<{ path: string; message: string }> } {
    const planned = planRoutes(
      topology,
      this.routes.map((r) => r.spec),
      nowNs(),
    );
    if (!planned.ok) return planned;
    this.routes.forEach((r, i) => {
      r.plan = planned.plans[i] as RoutePlan;
    });
    this.topology = topology;
    this.profileDocument = profileDocument;
    const known = new Set(topology.links.map((l) => l.link));
    for (const link of [...this.faults.keys()]) {
      if (!known.has(link)) void this.clearFault(link);
    }
    this.publishConfigured();
    return { ok: true };
  }

  private publishConfigured(): void {
    const paths: Array<LinkLabels & { impairment: Impairment }> = [];
    const seen = new Set<string>();
    for (const r of this.routes) {
      for (const d of [r.plan.forward, r.plan.reverse]) {
        const key = `${d.labels.link}|${d.labels.from}|${d.labels.to}`;
        if (d.links.length > 1 && !seen.has(key)) {
          seen.add(key);
          paths.push({ ...d.labels, impairment: d.impairment });
        }
      }
    }
    this.options.metrics.setConfigured(this.topology, paths);
  }

  faultsOn(route: Route): FaultType[] {
    return route
      .links()
      .map((l) => this.faults.get(l)?.type)
      .filter((t): t is FaultType => t !== undefined);
  }

  listFaults(): FaultState[] {
    return [...this.faults.values()];
  }

  hasLink(link: string): boolean {
    return this.topology.links.some((l) => l.link === link);
  }

  /** Injects a fault on an undirected link; every route crossing it is affected. One fault per link. */
  async setFault(link: string, type: FaultType): Promise<void> {
    if (this.faults.has(link)) await this.clearFault(link);
    this.faults.set(link, { link, type, sinceMs: Date.now() });
    this.options.metrics.faults.set({ link, type }, 1);
    this.options.log('warn', 'fault injected', { link, type });
    await this.applyFaults();
  }

  async clearFault(link: string): Promise<boolean> {
    const f = this.faults.get(link);
    if (!f) return false;
    this.faults.delete(link);
    this.options.metrics.faults.remove({ link, type: f.type });
    this.options.log('info', 'fault cleared', { link, type: f.type });
    await this.applyFaults();
    return true;
  }

  private async applyFaults(): Promise<void> {
    for (const r of this.routes) {
      const types = this.faultsOn(r);
      const wasStalled = r.stalled;
      r.stalled = types.includes('timeout');
      if (types.includes('reset')) for (const c of [...r.connections]) c.reset();
      if (wasStalled && !r.stalled) for (const c of r.connections) c.resume();
      if (types.includes('refuse') && r.listening) await r.stopListening();
      if (!types.includes('refuse') && !r.listening) {
        try {
          await r.listen();
        } catch (err) {
          this.options.log('error', 'cannot listen again after a refuse fault', {
            route: r.name,
            error: (err as Error).message,
          });
        }
      }
    }
  }

  /** Routes, their paths and counters, for the admin API. */
  describe() {
    return this.routes.map((r) => ({
      listen: `${r.spec.listenHost}:${r.port()}`,
      upstream: `${r.spec.upstreamHost}:${r.spec.upstreamPort}`,
      path: `${r.spec.from}->${r.spec.to}`,
      links: r.links(),
      listening: r.listening,
      faults: this.faultsOn(r),
      forward: { ...r.plan.forward.labels, impairment: r.plan.forward.impairment },
      reverse: { ...r.plan.reverse.labels, impairment: r.plan.reverse.impairment },
      connections: { active: r.connections.size, total: r.totalConnections },
    }));
  }

  /**
   * Stops accepting and lets open connections end by themselves for up to `graceMs` (a request in flight
   * gets its answer; a server that drains closes its keep-alive connections), then ends what is left with a
   * FIN both ways, and resets whatever is still open shortly after. A TCP proxy cannot tell an idle
   * keep-alive connection from one awaiting its answer, so it waits for the endpoints, as they decide.
   */
  async close(graceMs = 0): Promise<void> {
    for (const r of this.routes) if (r.listening) await r.stopListening();
    const all = () => this.routes.flatMap((r) => [...r.connections]);
    const deadline = Date.now() + graceMs;
    while (all().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of all()) c.end();
    const endDeadline = Date.now() + Math.min(500, graceMs);
    while (all().length > 0 && Date.now() < endDeadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of all()) c.reset();
  }
}
