// The pure decisions of the link proxy: when a chunk of bytes may leave, given the links it crosses.
// Times are nanoseconds (numbers) on the proxy's monotonic clock; the runtime (proxy.ts) only applies them.
//
// A chunk crossing a path goes, hop by hop: through the link's token bucket (the link's capacity in that
// direction, shared by every connection and every route that crosses the link, as a real link is), then
// the link's one-way delay with its jitter draw; optionally (lossMode "rto") a retransmission penalty.
// Finally it may not overtake the previous chunk of its connection: TCP delivers bytes in order, so a
// chunk with a short draw waits for the one before it (netem reorders packets, TCP then reorders them back;
// the effect on the byte stream is the same).
import type { Impairment } from '../topology/index.ts';
import { drawDelay, type Rng } from './jitter.ts';

export const NS_PER_SECOND = 1e9;

// ---- bounds ------------------------------------------------------------------------------------------
// The validator keeps profiles physical; these keep the arithmetic finite whatever it lets through (a rate
// of 1e-320 bit/s makes a release time infinite, an infinite one makes it NaN, and either stopped or hung
// the proxy). So a delay, a rate and a release time are clamped here, where they are computed.

/** The longest a chunk is ever held (an hour). A slower link's backlog is released at this horizon. */
export const MAX_HOLD_NS = 3600 * NS_PER_SECOND;
/** The slowest and fastest rates the bucket paces at; a profile's rate is clamped into this range. */
export const MIN_RATE_BITS_PER_SECOND = 1;
export const MAX_RATE_BITS_PER_SECOND = 1e15;

/** `x` within [lo, hi]; not a number counts as `lo`. Pure. */
export function within(x: number, lo: number, hi: number): number {
  return Number.isNaN(x) ? lo : Math.min(hi, Math.max(lo, x));
}

// ---- token bucket ------------------------------------------------------------------------------------

/** A bucket's state: tokens (bytes, negative while in debt) as of time `atNs`. */
export interface BucketState {
  tokens: number;
  atNs: number;
}

export interface Bucket {
  rateBytesPerSecond: number;
  burstBytes: number;
}

/**
 * How much a link may send at once: one millisecond at its rate, and at least one full-size packet. Small
 * on purpose: a real link has no burst at all, it serialises; the bucket only smooths the proxy's chunks.
 */
export function burstBytes(rateBitsPerSecond: number): number {
  return Math.max(1514, (rateBitsPerSecond / 8) * 1e-3);
}

export function bucketFor(rateBitsPerSecond: number | null): Bucket | null {
  if (rateBitsPerSecond === null) return null;
  const rate = within(rateBitsPerSecond, MIN_RATE_BITS_PER_SECOND, MAX_RATE_BITS_PER_SECOND);
  return { rateBytesPerSecond: rate / 8, burstBytes: burstBytes(rate) };
}

export function fullBucket(bucket: Bucket, nowNs: number): BucketState {
  return { tokens: bucket.burstBytes, atNs: nowNs };
}

/**
 * Reserves `bytes` at `nowNs`. Tokens may go negative (debt): a chunk larger than the burst is not refused,
 * it leaves when the debt would be paid, and every later chunk queues behind it. So releases come out in
 * arrival order and the link is never idle while something waits (a FIFO link of the bucket's rate).
 * Arrivals are taken no earlier than the last one: a second hop sees chunks whose jitter made them
 * arrive out of order, and the bucket's clock must not run backwards. The debt never exceeds MAX_HOLD_NS
 * of the rate, as no chunk is held longer.
 */
export function reserve(
  bucket: Bucket,
  state: BucketState,
  bytes: number,
  nowNs: number,
): { state: BucketState; releaseNs: number } {
  const at = Math.max(nowNs, state.atNs);
  const refilled = Math.min(
    bucket.burstBytes,
    state.tokens + ((at - state.atNs) / NS_PER_SECOND) * bucket.rateBytesPerSecond,
  );
  const maxDebt = (bucket.rateBytesPerSecond * MAX_HOLD_NS) / NS_PER_SECOND;
  const tokens = Math.max(-maxDebt, refilled - bytes);
  const releaseNs = tokens >= 0 ? at : at + (-tokens / bucket.rateBytesPerSecond) * NS_PER_SECOND;
  return { state: { tokens, atNs: at }, releaseNs };
}

// ---- loss (approximation, off by default) ------------------------------------------------------------

/** Linux's minimum retransmission timeout (TCP_RTO_MIN) and initial SYN timeout (TCP_TIMEOUT_INIT). */
export const RTO_MIN_SECONDS = 0.2;
export const SYN_TIMEOUT_SECONDS = 1;
/** Payload of one full-size TCP segment on a 1500-byte MTU with timestamps. */
export const SEGMENT_BYTES = 1448;

/**
 * A TCP proxy cannot drop packets: it sees a reliable byte stream, and whatever it withholds is lost for
 * good, not retransmitted. `none` ignores loss (the configured ratio is still reported). `rto` is an
 * approximation, labelled as such: a chunk that would have had at least one of its segments lost is held
 * back as long as the sender's retransmission timer would hold it (200 ms), and so is everything after it
 * on that connection (head-of-line blocking). It ignores fast retransmit, so it overstates mid-stream loss.
 */
export type LossMode = 'none' | 'rto';
export const LOSS_MODES: readonly LossMode[] = ['none', 'rto'];

export function chunkLossProbability(loss: number, bytes: number): number {
  const segments = Math.max(1, Math.ceil(bytes / SEGMENT_BYTES));
  return 1 - (1 - loss) ** segments;
}

// ---- a hop and a path --------------------------------------------------------------------------------

export interface Hop {
  impairment: Impairment;
  bucket: Bucket | null;
}

/** One hop's delay draw in nanoseconds, within [0, MAX_HOLD_NS]. */
function hopDelayNs(impairment: Impairment, rng: Rng): number {
  return within(drawDelay(impairment, rng) * NS_PER_SECOND, 0, MAX_HOLD_NS);
}

export interface ChunkDecision {
  /** When the chunk may be written to the far side. */
  releaseNs: number;
  /** New bucket states, one per hop (null where the hop is unlimited); the caller stores them. */
  buckets: Array<BucketState | null>;
  /** Retransmission penalties added (lossMode rto), for the logs and the tests. */
  penalties: number;
}

/**
 * Decides one chunk. `sentNs` is when the sender handed it over (or when the connection counts as set up,
 * if later: see `handshake`); `previousReleaseNs` the release of the connection's previous chunk in this
 * direction, which it may not overtake. The hops' share of the wait is at most MAX_HOLD_NS, whatever they
 * say, so no release lies more than that after the latest chunk sent.
 */
export function decideChunk(args: {
  hops: readonly Hop[];
  buckets: ReadonlyArray<BucketState | null>;
  bytes: number;
  sentNs: number;
  previousReleaseNs: number;
  rng: Rng;
  lossMode: LossMode;
}): ChunkDecision {
  let t = args.sentNs;
  let penalties = 0;
  const buckets: Array<BucketState | null> = [];
  for (let i = 0; i < args.hops.length; i++) {
    const hop = args.hops[i] as Hop;
    const state = args.buckets[i] ?? null;
    if (hop.bucket && state) {
      const r = reserve(hop.bucket, state, args.bytes, t);
      buckets.push(r.state);
      t = r.releaseNs;
    } else buckets.push(state);
    t += hopDelayNs(hop.impairment, args.rng);
    if (args.lossMode === 'rto' && hop.impairment.loss > 0) {
      if (args.rng() < chunkLossProbability(hop.impairment.loss, args.bytes)) {
        t += RTO_MIN_SECONDS * NS_PER_SECOND;
        penalties++;
      }
    }
  }
  const held = within(t, args.sentNs, args.sentNs + MAX_HOLD_NS);
  return { releaseNs: Math.max(held, args.previousReleaseNs), buckets, penalties };
}

/**
 * One-way delay of a packet with no payload (SYN, SYN-ACK, FIN): each hop's delay draw, no bucket (a
 * header's serialisation time is negligible), and with lossMode rto a lost SYN costs the initial timeout.
 */
export function controlDelayNs(hops: readonly Hop[], rng: Rng, lossMode: LossMode, syn = false): number {
  let t = 0;
  for (const hop of hops) {
    t += hopDelayNs(hop.impairment, rng);
    if (lossMode === 'rto' && hop.impairment.loss > 0 && rng() < hop.impairment.loss)
      t += (syn ? SYN_TIMEOUT_SECONDS : RTO_MIN_SECONDS) * NS_PER_SECOND;
  }
  return Math.min(t, MAX_HOLD_NS);
}

/**
 * Connection setup. The client's kernel completes its handshake with the proxy's listening socket at once
 * (userspace cannot hold back a SYN-ACK), so the proxy emulates the round trip around that:
 *   - the SYN reaches the server one forward delay after the accept: the upstream dial waits that long;
 *   - the SYN-ACK reaches the client one reverse delay after the server answered (a kernel answers at once,
 *     so: one reverse delay after the dial started): only then does the connection count as set up on the
 *     client's side;
 *   - whatever the client sent before that is treated as sent at set-up, then crosses the path like any
 *     data; so the first request on a new connection pays two round trips, as it does on the link.
 * The client's connect() call itself still returns at once: tools that time the connect phase alone see
 * the handshake round trip in their time to first byte instead.
 */
export function handshake(acceptNs: number, forwardNs: number): { dialAtNs: number } {
  return { dialAtNs: acceptNs + forwardNs };
}

export function establishedAt(serverAnsweredNs: number, reverseNs: number): number {
  return serverAnsweredNs + reverseNs;
}

/** When a chunk the client handed over at `arrivalNs` counts as sent on the emulated link. */
export function sentAt(arrivalNs: number, establishedNs: number): number {
  return Math.max(arrivalNs, establishedNs);
}
