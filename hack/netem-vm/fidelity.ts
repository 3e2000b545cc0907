// What the netem VM measures, for the test (netem-vm.test.ts, short series) and the benchmark (bench.ts, every
// preset): ping round trips between node IPs and between pod IPs of every ordered pair of sites, on the source's
// egress alone (from an address the agents do not know, so the reply is not delayed) and across the whole path;
// loss counted by the source's netem leaf; goodput of a bulk transfer; how long a profile change takes to show.
// Each measurement is set against what netem-model.ts says the profile should give on top of the VM's own round
// trip through as many plain netem queues of a known delay, measured at the same moment (referenceCommand): a
// host that stalls the VM or wakes its timers late does it to both series alike.
import { pathImpairment, type Topology } from '../../services/topology/index.ts';
import {
  type PingSeries,
  parsePing,
  qdiscCounters,
  quantile,
  quantileBand,
  type Summary,
  summarize,
} from './measure.ts';
import { type DistributionTables, modelRoundTrips, uint32Random } from './netem-model.ts';
import type { VmNode } from './sites.ts';
import { DEVICE, type VmTestbed } from './testbed.ts';

export type Kind = 'node' | 'pod';
export type Scope = 'egress' | 'path';

export interface Series {
  from: VmNode;
  to: VmNode;
  kind: Kind;
  scope: Scope;
}

export const seriesKey = (s: Series) => `${s.from.site}->${s.to.site} ${s.kind} ${s.scope}`;

/** Every ordered pair of site nodes, between node IPs and pod IPs, egress alone and whole path. */
export function allSeries(sites: readonly VmNode[]): Series[] {
  const out: Series[] = [];
  for (const kind of ['node', 'pod'] as const)
    for (const scope of ['egress', 'path'] as const)
      for (const from of sites) for (const to of sites) if (from !== to) out.push({ from, to, kind, scope });
  return out;
}

export interface PingOptions {
  count: number;
  intervalSeconds: number;
}

/** The fixed delay of the reference queues (plain netem on the control-plane node, which no agent shapes). */
export const REFERENCE_DELAY_SECONDS = 0.01;

function pingArgv(o: PingOptions, target: string, source?: string): string[] {
  const argv = ['/usr/bin/ping', '-n', '-c', String(o.count), '-i', String(o.intervalSeconds), '-W', '2'];
  return [...argv, ...(source ? ['-I', source] : []), target];
}

/** Where a series' echoes start and what they are sent to (egress alone: from the unlisted address). */
export function pingCommand(s: Series, o: PingOptions): { netns: string; argv: string[] } {
  const node = s.kind === 'node';
  const source =
    s.scope === 'egress' ? (node ? s.from.unlistedAddress : s.from.unlistedPodAddress) : undefined;
  return {
    netns: node ? s.from.name : s.from.pod,
    argv: pingArgv(o, node ? s.to.address : s.to.podAddress, source),
  };
}

/**
 * The series' reference: the VM's own round trip to the same destination through as many netem queues (plain
 * REFERENCE_DELAY_SECONDS, on the control-plane node's eth0 and pod veth) as the series crosses: from the
 * control-plane node (its eth0 on the way out: one queue) or its pod (and the pod veth on the way back: two).
 * Measured at the same moment, it carries what TCG and the host add to every netem queue.
 */
export function referenceCommand(cp: VmNode, s: Series, o: PingOptions): { netns: string; argv: string[] } {
  const target = s.kind === 'node' ? s.to.address : s.to.podAddress;
  return { netns: s.scope === 'path' ? cp.pod : cp.name, argv: pingArgv(o, target) };
}

/** Unshaped: between the pair's unlisted addresses, which no agent matches (same hops, no netem). */
export function controlCommand(s: Series, o: PingOptions): { netns: string; argv: string[] } {
  const node = s.kind === 'node';
  return {
    netns: node ? s.from.name : s.from.pod,
    argv: pingArgv(
      o,
      node ? s.to.unlistedAddress : s.to.unlistedPodAddress,
      node ? s.from.unlistedAddress : s.from.unlistedPodAddress,
    ),
  };
}

export async function ping(
  tb: VmTestbed,
  c: { netns: string; argv: string[] },
  o: PingOptions,
): Promise<PingSeries> {
  const r = await tb.vm.exec(c.argv, {
    netns: c.netns,
    timeoutMs: (o.count * o.intervalSeconds * 4 + 60) * 1000,
  });
  return parsePing(r.stdout);
}

/** Runs `work` over `items`, at most `parallel` at a time, keeping the order of the results. */
export async function inBatches<T, R>(
  items: readonly T[],
  parallel: number,
  work: (t: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += parallel)
    out.push(...(await Promise.all(items.slice(i, i + parallel).map(work))));
  return out;
}

/** Runs `work` with the reference queues in place on the control-plane node, and removes them after. */
export async function withReferenceQueues<T>(tb: VmTestbed, work: () => Promise<T>): Promise<T> {
  const cp = tb.controlPlane();
  const delay = `${REFERENCE_DELAY_SECONDS * 1000}ms`;
  for (const dev of [DEVICE, 'vpod'])
    await tb.vm.run(
      ['/sbin/tc', 'qdisc', 'replace', 'dev', dev, 'root', 'handle', '9:', 'netem', 'delay', delay],
      {
        netns: cp.name,
      },
    );
  try {
    return await work();
  } finally {
    for (const dev of [DEVICE, 'vpod'])
      await tb.vm.run(['/sbin/tc', 'qdisc', 'del', 'dev', dev, 'root'], { netns: cp.name });
  }
}

export interface DelayRow {
  series: Series;
  /** netem queues crossed: 1 (egress alone) or 2 (whole path). */
  hops: number;
  /** One-way delays and jitters crossed (egress: the source's path; path: both directions), seconds. */
  configuredDelay: number;
  configuredJitter: number;
  expected: Summary;
  /** Samples of the expected distribution (for sampling bands). */
  expectedSamples: number[];
  measured: Summary;
  /** The reference's round trips less its queues' fixed delay: the VM's own, netem's timing included. */
  base: Summary;
  /** With `control`: the unshaped round trip (base p50 less this: what TCG adds to the queues). */
  control?: Summary;
  sent: number;
  received: number;
  /** How long ping took to send the series (its own clock), against what its schedule says. */
  seconds: number;
  plannedSeconds: number;
}

export function expectedRoundTrips(
  topology: Topology,
  s: Series,
  base: readonly number[],
  o: PingOptions,
  tables: DistributionTables,
): number[] {
  const forward = pathImpairment(topology, s.from.site as string, s.to.site as string);
  const reverse =
    s.scope === 'path' ? pathImpairment(topology, s.to.site as string, s.from.site as string) : undefined;
  return modelRoundTrips(
    { forward, ...(reverse ? { reverse } : {}), intervalSeconds: o.intervalSeconds, base },
    tables,
  );
}

/**
 * Each series beside its reference (and, with `control`, an unshaped series), `parallel` series at a time.
 * Needs the reference queues (withReferenceQueues).
 */
export async function measureDelays(
  tb: VmTestbed,
  topology: Topology,
  series: readonly Series[],
  o: PingOptions & { parallel: number; control?: boolean },
  tables: DistributionTables,
): Promise<DelayRow[]> {
  const cp = tb.controlPlane();
  const results = await inBatches(series, o.parallel, (s) =>
    Promise.all([
      ping(tb, pingCommand(s, o), o),
      ping(tb, referenceCommand(cp, s, o), o),
      o.control ? ping(tb, controlCommand(s, o), o) : undefined,
    ]),
  );
  return series.map((s, k) => {
    const [r, reference, control] = results[k] as [PingSeries, PingSeries, PingSeries | undefined];
    const both = s.scope === 'path';
    const hops = both ? 2 : 1;
    const b = reference.roundTrips.map((t) => t - hops * REFERENCE_DELAY_SECONDS);
    // The gap between echo requests sets how often one waits behind another in a queue with a rate (netem keeps
    // order): a starved ping sends less often than asked, so the model takes the gap it achieved.
    const gap = Math.max(
      o.intervalSeconds,
      (r.seconds - (quantile(r.roundTrips, 0.5) || 0)) / Math.max(1, o.count - 1),
    );
    const forward = pathImpairment(topology, s.from.site as string, s.to.site as string);
    const reverse = pathImpairment(topology, s.to.site as string, s.from.site as string);
    const expectedSamples =
      b.length > 0 ? expectedRoundTrips(topology, s, b, { ...o, intervalSeconds: gap }, tables) : [];
    return {
      series: s,
      hops,
      configuredDelay: forward.latencySeconds + (both ? reverse.latencySeconds : 0),
      configuredJitter: Math.sqrt(forward.jitterSeconds ** 2 + (both ? reverse.jitterSeconds ** 2 : 0)),
      expected: summarize(expectedSamples),
      expectedSamples,
      measured: summarize(r.roundTrips),
      base: summarize(b),
      ...(control ? { control: summarize(control.roundTrips) } : {}),
      sent: r.transmitted,
      received: r.received,
      seconds: Math.max(r.seconds, reference.seconds),
      plannedSeconds: (o.count - 1) * o.intervalSeconds,
    };
  });
}

/**
 * How far a measured round trip may stray from the model, and when a series says more about the host than
 * about netem. The model is fed the reference's round trips (the VM's own, netem's timing under TCG included,
 * measured beside the series), so what is left is:
 * - coverage: the measured p50 and p99 must fall where that share of n-sample series of the model's
 *   distribution put them (sampling error, computed, not guessed);
 * - marginSeconds: iputils prints round trips to 3 significant digits (0.1 ms from 10 ms, 1 ms from 100 ms)
 *   and the reference's path has a pod hop more or less than some series;
 * - the p99 is allowed, on either side, the reference's own tail (its p99 less its p90): how far single echoes
 *   stray at that moment for reasons that are the guest's, not netem's;
 * - disturbedAboveSeconds: a reference whose p50 is further than this above its fixed delay means the host
 *   starved the VM (its timers fire late): measured again rather than judged. (A ping that falls behind its
 *   schedule is fine: the model takes the gap it achieved.)
 */
export interface Tolerance {
  marginSeconds: number;
  coverage: number;
  disturbedAboveSeconds: number;
}

export interface Judgement {
  ok: boolean;
  p50: { low: number; high: number };
  p99: { low: number; high: number };
  /** Why the series is not judged (the host disturbed it), if so. */
  disturbed?: string;
}

export function judgeDelay(row: DelayRow, tol: Tolerance, seed = 7): Judgement {
  const rnd = uint32Random(seed);
  const band = (p: number) => {
    if (row.expectedSamples.length === 0) return { low: Number.NaN, high: Number.NaN };
    const b = quantileBand(row.expectedSamples, row.measured.n, p, rnd, tol.coverage);
    return { low: b.low - tol.marginSeconds, high: b.high + tol.marginSeconds };
  };
  const p50 = band(0.5);
  // A p99 of a short series is one or two echoes: whether one of them met a stall (a guest process woken late
  // between taking its send time and sending) is luck, and the reference's tail shows how much of it there is.
  const tail = Math.max(0, row.base.p99 - row.base.p90);
  const b99 = band(0.99);
  const p99 = { low: b99.low - tail, high: b99.high + tail };
  let disturbed: string | undefined;
  if (!(row.base.p50 <= tol.disturbedAboveSeconds))
    disturbed = `the reference's p50 was ${(row.base.p50 * 1000).toFixed(1)} ms above its fixed delay`;
  else if (row.measured.n < row.sent / 2)
    disturbed = `only ${row.measured.n} of ${row.sent} echoes came back`;
  const inside = (v: number, b: { low: number; high: number }) => v >= b.low && v <= b.high;
  return {
    ok: disturbed === undefined && inside(row.measured.p50, p50) && inside(row.measured.p99, p99),
    p50,
    p99,
    ...(disturbed ? { disturbed } : {}),
  };
}

/**
 * Measures every series; a series the host disturbed, or outside its band, is measured again (up to
 * `attempts` times in all), so one starved second does not decide. Returns the last measurement of each
 * with its judgement and how many attempts it took.
 */
export async function measureDelaysJudged(
  tb: VmTestbed,
  topology: Topology,
  series: readonly Series[],
  o: PingOptions & { parallel: number; control?: boolean },
  tables: DistributionTables,
  tol: Tolerance,
  attempts: number,
): Promise<Array<{ row: DelayRow; judgement: Judgement; attempts: number }>> {
  const out = new Map<string, { row: DelayRow; judgement: Judgement; attempts: number }>();
  let todo = [...series];
  for (let attempt = 1; attempt <= attempts && todo.length > 0; attempt++) {
    const rows = await withReferenceQueues(tb, () => measureDelays(tb, topology, todo, o, tables));
    for (const row of rows)
      out.set(seriesKey(row.series), { row, judgement: judgeDelay(row, tol), attempts: attempt });
    todo = rows.filter((r) => !out.get(seriesKey(r.series))?.judgement.ok).map((r) => r.series);
  }
  return series.map(
    (s) => out.get(seriesKey(s)) as { row: DelayRow; judgement: Judgement; attempts: number },
  );
}

/** The netem leaf on `from`'s eth0 that carries traffic to `to` (its parent is the class towards that site). */
export async function leafTowards(tb: VmTestbed, from: VmNode, to: VmNode): Promise<string> {
  const status = await tb.status(from.name);
  const line = status?.plan.find((l) => l.startsWith(`${from.site}->${to.site} `));
  const classid = line && /class (\S+):? /.exec(line)?.[1]?.replace(/:$/, '');
  if (!classid) throw new Error(`no class from ${from.site} to ${to.site} in ${from.name}'s status`);
  const qdiscs = await tb.tcJson(from.name, ['qdisc', 'show', 'dev', DEVICE]);
  const leaf = qdiscs.find((q) => q.kind === 'netem' && q.parent === classid);
  if (!leaf) throw new Error(`no netem leaf under ${classid} on ${from.name}`);
  return String(leaf.handle);
}

export interface LossRow {
  from: VmNode;
  to: VmNode;
  configured: number;
  /** Datagrams the sender's kernel took. */
  sent: number;
  /** Packets the netem leaf saw (passed or dropped). */
  packets: number;
  drops: number;
}

/** `count` datagrams from one node to another's IP; the source's netem leaf counts what it dropped. */
export async function measureLoss(
  tb: VmTestbed,
  topology: Topology,
  from: VmNode,
  to: VmNode,
  count: number,
  pps: number,
): Promise<LossRow> {
  const leaf = await leafTowards(tb, from, to);
  const read = async () =>
    qdiscCounters(await tb.tcJson(from.name, ['qdisc', 'show', 'dev', DEVICE])).get(leaf) ?? {
      packets: 0,
      drops: 0,
    };
  const before = await read();
  const sent = await tb.blast(from, to.address, count, pps);
  // Let the queue drain: what is still delayed has not been counted as sent yet.
  await new Promise((r) => setTimeout(r, 1000));
  const after = await read();
  const drops = after.drops - before.drops;
  return {
    from,
    to,
    configured: pathImpairment(topology, from.site as string, to.site as string).loss,
    sent,
    packets: after.packets - before.packets + drops,
    drops,
  };
}

export interface RateRow {
  from: VmNode;
  to: VmNode;
  /** The path's rate, bits/s (null: not limited). */
  configured: number | null;
  /** What the VM carries unshaped on this path, bits/s. */
  base: number;
  measured: number;
}

export function configuredRate(topology: Topology, from: VmNode, to: VmNode): number | null {
  return pathImpairment(topology, from.site as string, to.site as string).rateBitsPerSecond;
}

/** TCP over Ethernet with timestamps: 1448 payload bytes in each 1514-byte frame, which netem's rate counts. */
export const TCP_GOODPUT_PER_WIRE_BIT = 1448 / 1514;

/**
 * A bulk transfer to `to`'s node IP (through the source's netem leaf), right after one to its unlisted address
 * (no leaf matches it): what the VM carries at that moment, so a rate above it is known to be the VM's limit.
 */
export async function measureRate(
  tb: VmTestbed,
  topology: Topology,
  from: VmNode,
  to: VmNode,
  seconds: number,
): Promise<RateRow> {
  const base = await tb.bulk(from, to, Math.min(2, seconds), to.unlistedAddress);
  const measured = await tb.bulk(from, to, seconds);
  return { from, to, configured: configuredRate(topology, from, to), base, measured };
}

export interface SwitchResult {
  /** Seconds from the profile apply being sent to the first echo showing the new delay. */
  seconds: number;
  /** The round trip of that echo, seconds (it was sent that much earlier). */
  roundTrip: number;
  before: number[];
  after: number[];
}

/**
 * What tells a round trip of the new profile from one of the old: beyond the new model's 0.1% tail on the
 * side away from the old one (widened by `margin`), where the old model's 0.1% tail does not reach; undefined
 * when the two overlap. An echo that crossed one agent's new tree and the other's old one falls short of it:
 * the change counts once the whole path follows. The models are fed the same measured base.
 */
export function switchBoundary(
  before: readonly number[],
  after: readonly number[],
  margin: number,
): ((rtt: number) => boolean) | undefined {
  const [oldLow, oldHigh] = [quantile(before, 0.001), quantile(before, 0.999)];
  const [newLow, newHigh] = [quantile(after, 0.001), quantile(after, 0.999)];
  if (newLow - margin > oldHigh) return (rtt) => rtt >= newLow - margin;
  if (newHigh + margin < oldLow) return (rtt) => rtt <= newHigh + margin;
  return undefined;
}

/**
 * Pings `s` continuously, applies `profile`, and times until the echoes show the new delay: the first echo
 * `inNew` accepts (a round trip only the new profile gives) after which at least 18 of the next 20 are.
 */
export async function measureSwitch(
  tb: VmTestbed,
  s: Series,
  profile: string,
  inNew: (rtt: number) => boolean,
  o: { intervalSeconds: number; timeoutSeconds: number },
): Promise<SwitchResult> {
  const c = pingCommand(s, {
    count: Math.ceil(o.timeoutSeconds / o.intervalSeconds),
    intervalSeconds: o.intervalSeconds,
  });
  const echoes: Array<{ at: number; rtt: number }> = [];
  let appliedAt = Number.POSITIVE_INFINITY;
  const child = tb.vm.spawn(c.argv, {
    netns: c.netns,
    onLine: (line) => {
      const m = /time=([\d.]+) ms/.exec(line);
      if (m) echoes.push({ at: performance.now(), rtt: Number(m[1]) / 1000 });
    },
  });
  const firstFollowing = () => {
    const after = echoes.filter((e) => e.at > appliedAt);
    for (let k = 0; k < after.length; k++) {
      if (!inNew((after[k] as { rtt: number }).rtt)) continue;
      const next = after.slice(k, k + 20);
      if (next.length < 20) return undefined;
      if (next.filter((e) => inNew(e.rtt)).length >= 18) return after[k];
    }
    return undefined;
  };
  let first: { at: number; rtt: number } | undefined;
  try {
    // Some echoes of the old profile first.
    await waitFor(() => echoes.length >= 20, 60_000);
    appliedAt = performance.now();
    await tb.setProfile(profile);
    await waitFor(() => {
      first = firstFollowing();
      return first !== undefined;
    }, o.timeoutSeconds * 1000);
  } finally {
    child.kill('SIGINT');
    await child.exited;
  }
  const found = first as { at: number; rtt: number };
  return {
    seconds: (found.at - appliedAt) / 1000,
    roundTrip: found.rtt,
    before: echoes.filter((e) => e.at <= appliedAt).map((e) => e.rtt),
    after: echoes.filter((e) => e.at > appliedAt).map((e) => e.rtt),
  };
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
