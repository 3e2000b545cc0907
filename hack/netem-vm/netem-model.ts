// What netem should do to a ping series, computed the way the kernel does it (net/sched/sch_netem.c), so a
// measurement is compared with the profile's own distribution rather than with its mean alone:
// - tabledist(): delay = latency + jitter × table[rnd] / 8192 with iproute2's distribution tables (the same
//   files the VM's tc loads), or uniform in [latency − jitter, latency + jitter) without a table;
// - with `rate` set (every preset sets it), a packet never leaves before the one queued ahead of it, and pays
//   its own transmission time (netem_enqueue: time_to_send = max(now + delay, last) + length / rate);
// - a packet's echo enters the far end's netem when it arrives there.
// The VM's own round trip (measured unshaped, per path) is added sample by sample. Pure.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Impairment } from '../../services/topology/index.ts';
import { seededRng } from '../../services/topology/random.ts';

export const NETEM_DIST_SCALE = 8192;
/** An ICMP echo of busybox ping's default 56 data bytes on the wire: 20 IP + 8 ICMP + 56 + 14 Ethernet. */
export const PING_FRAME_BYTES = 98;
/** Where Debian's iproute2 keeps netem's tables (the VM carries the same files). */
export const DEBIAN_TC_TABLES = '/usr/lib/x86_64-linux-gnu/tc';

export type DistributionTables = Partial<Record<Impairment['distribution'], Int16Array>>;

/** A netem distribution file: whitespace-separated integers, `#` comments. */
export function parseDistTable(text: string): Int16Array {
  const values = text
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join(' ')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v)))
    throw new Error('not a netem distribution table');
  return Int16Array.from(values);
}

export function loadTables(dir = DEBIAN_TC_TABLES): DistributionTables {
  const tables: DistributionTables = {};
  for (const name of ['normal', 'pareto', 'paretonormal'] as const)
    tables[name] = parseDistTable(readFileSync(join(dir, `${name}.dist`), 'utf8'));
  return tables;
}

/** Seeded 32-bit draws (netem's random numbers are u32): the model is reproducible. */
export function uint32Random(seed: number): () => number {
  const draw = seededRng(seed);
  return () => Math.floor(draw() * 2 ** 32);
}

/** One packet's netem delay in seconds (tabledist()); may be negative (the packet then leaves at once). */
export function netemDelay(i: Impairment, tables: DistributionTables, rnd: () => number): number {
  if (i.jitterSeconds === 0) return i.latencySeconds;
  const sigmaNs = Math.round(i.jitterSeconds * 1e9);
  const muNs = Math.round(i.latencySeconds * 1e9);
  if (i.distribution === 'uniform') return ((rnd() % (2 * sigmaNs)) + muNs - sigmaNs) / 1e9;
  const table = tables[i.distribution];
  if (!table) throw new Error(`no netem table for distribution ${i.distribution}`);
  const t = table[rnd() % table.length] as number;
  return (muNs + (sigmaNs * t) / NETEM_DIST_SCALE) / 1e9;
}

/** A netem queue: the times packets leave it, given the times they enter (index by index). */
export function netemHop(
  i: Impairment,
  enter: readonly number[],
  tables: DistributionTables,
  rnd: () => number,
  frameBytes = PING_FRAME_BYTES,
): number[] {
  const leave: number[] = new Array(enter.length);
  let last = Number.NEGATIVE_INFINITY;
  const order = enter.map((_, k) => k).sort((a, b) => (enter[a] as number) - (enter[b] as number));
  for (const k of order) {
    const now = enter[k] as number;
    const delay = netemDelay(i, tables, rnd);
    let at: number;
    if (i.rateBitsPerSecond === null) at = now + Math.max(0, delay);
    else {
      // The reference point is the last packet still queued; once it has left, it is now.
      const from = last > now ? Math.max(last, now + delay) : now + Math.max(0, delay);
      at = from + (frameBytes * 8) / i.rateBitsPerSecond;
    }
    leave[k] = at;
    if (i.rateBitsPerSecond !== null) last = at;
  }
  return leave;
}

export interface SeriesModel {
  /** The netem the echo request crosses (the source's egress). */
  forward: Impairment;
  /** The netem the reply crosses (the destination's egress), or none (an unlisted source address). */
  reverse?: Impairment;
  intervalSeconds: number;
  /** Measured unshaped round trips of the same path, in seconds: drawn at random, one per echo. */
  base: readonly number[];
  count?: number;
  seed?: number;
}

/** Round trips (seconds) netem should produce for a ping series, lost packets left out. */
export function modelRoundTrips(model: SeriesModel, tables: DistributionTables): number[] {
  const count = model.count ?? 20_000;
  const rnd = uint32Random(model.seed ?? 1);
  if (model.base.length === 0) throw new Error('the model needs measured base round trips');
  const sent = Array.from({ length: count }, (_, k) => k * model.intervalSeconds);
  const base = sent.map(() => model.base[rnd() % model.base.length] as number);
  const there = netemHop(model.forward, sent, tables, rnd);
  const back = model.reverse
    ? netemHop(
        model.reverse,
        there.map((t, k) => t + (base[k] as number) / 2),
        tables,
        rnd,
      ).map((t, k) => t - (base[k] as number) / 2)
    : there;
  return back.map((t, k) => t - (sent[k] as number) + (base[k] as number));
}
