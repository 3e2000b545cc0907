import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type Impairment,
  JITTER_DISTRIBUTIONS,
  ProfileError,
  parseProfileText,
  RANGES,
} from '../topology/index.ts';
import { seededRng } from './jitter.ts';
import {
  bucketFor,
  burstBytes,
  chunkLossProbability,
  controlDelayNs,
  decideChunk,
  establishedAt,
  fullBucket,
  type Hop,
  handshake,
  MAX_HOLD_NS,
  MAX_RATE_BITS_PER_SECOND,
  MIN_RATE_BITS_PER_SECOND,
  RTO_MIN_SECONDS,
  reserve,
  sentAt,
  within,
} from './schedule.ts';

const MS = 1e6;
const imp = (over: Partial<Impairment> = {}): Impairment => ({
  latencySeconds: 0.005,
  jitterSeconds: 0,
  distribution: 'normal',
  loss: 0,
  rateBitsPerSecond: null,
  ...over,
});
const noRng = () => {
  throw new Error('RNG used');
};

describe('token bucket', () => {
  const bucket = { rateBytesPerSecond: 1e6, burstBytes: 1000 }; // 1 MB/s: 1 byte per µs
  it('lets a burst through at once, then paces at the rate', () => {
    let s = fullBucket(bucket, 0);
    let r = reserve(bucket, s, 1000, 0);
    assert.equal(r.releaseNs, 0);
    s = r.state;
    r = reserve(bucket, s, 500, 0);
    assert.equal(r.releaseNs, 500_000); // 500 bytes at 1 byte/µs
  });
  it('refills with time up to the burst, never beyond', () => {
    const s = { tokens: 0, atNs: 0 };
    assert.equal(reserve(bucket, s, 1000, 10 * MS).releaseNs, 10 * MS); // 10 ms refills 10 kB, capped at 1 kB
    assert.equal(reserve(bucket, s, 1001, 10 * MS).releaseNs, 10 * MS + 1000);
  });
  it('a chunk larger than the burst goes into debt and later chunks queue behind it, in order', () => {
    let s = fullBucket(bucket, 0);
    const releases: number[] = [];
    for (const bytes of [64_000, 10, 64_000, 10]) {
      const r = reserve(bucket, s, bytes, 0);
      s = r.state;
      releases.push(Math.round(r.releaseNs));
    }
    assert.deepEqual(releases, [63_000_000, 63_010_000, 127_010_000, 127_020_000]);
    assert.deepEqual(
      [...releases].sort((a, b) => a - b),
      releases,
    );
  });
  it('a long run of chunks averages the configured rate', () => {
    let s = fullBucket(bucket, 0);
    let last = 0;
    for (let i = 0; i < 1000; i++) {
      const r = reserve(bucket, s, 1500, i * 100); // offered far above the rate
      s = r.state;
      last = r.releaseNs;
    }
    const rate = (1000 * 1500 - 1000) / (last / 1e9);
    assert.ok(Math.abs(rate - 1e6) / 1e6 < 0.001, `rate ${rate}`);
  });
  it('an arrival earlier than the last reservation does not run the clock backwards', () => {
    const s = { tokens: -1000, atNs: 5 * MS };
    assert.equal(reserve(bucket, s, 0, 1 * MS).releaseNs, 6 * MS);
  });
  it('sizes the burst to a millisecond of rate, at least one packet; unlimited has no bucket', () => {
    assert.equal(burstBytes(80e6), 10_000);
    assert.equal(burstBytes(1e6), 1514);
    assert.equal(bucketFor(null), null);
    assert.deepEqual(bucketFor(8e6), { rateBytesPerSecond: 1e6, burstBytes: 1514 });
  });
});

describe('chunk decisions', () => {
  const hops: Hop[] = [
    { impairment: imp({ latencySeconds: 0.006 }), bucket: null },
    { impairment: imp({ latencySeconds: 0.009 }), bucket: null },
  ];
  const base = {
    hops,
    buckets: [null, null],
    bytes: 100,
    previousReleaseNs: 0,
    rng: noRng,
    lossMode: 'none' as const,
  };
  it('adds every hop of the path', () => {
    assert.equal(decideChunk({ ...base, sentNs: 1 * MS }).releaseNs, 16 * MS);
  });
  it('never releases before the previous chunk of the connection', () => {
    assert.equal(decideChunk({ ...base, sentNs: 0, previousReleaseNs: 40 * MS }).releaseNs, 40 * MS);
  });
  it('keeps order under jitter: releases are non-decreasing whatever the draws', () => {
    const rng = seededRng(3);
    const jittery: Hop[] = [
      {
        impairment: imp({ latencySeconds: 0.005, jitterSeconds: 0.005, distribution: 'uniform' }),
        bucket: null,
      },
    ];
    let prev = 0;
    let reordered = 0;
    for (let i = 0; i < 2000; i++) {
      const sentNs = i * 0.1 * MS; // chunks 0.1 ms apart, jitter ±5 ms: raw draws would reorder
      const d = decideChunk({
        ...base,
        hops: jittery,
        buckets: [null],
        sentNs,
        previousReleaseNs: prev,
        rng,
      });
      if (sentNs + 10 * MS < prev) reordered++;
      assert.ok(d.releaseNs >= prev);
      assert.ok(d.releaseNs >= sentNs, 'never before it was sent');
      prev = d.releaseNs;
    }
    assert.equal(reordered, 0);
  });
  it('passes each hop through its bucket before its delay, and returns the new bucket states', () => {
    const b = bucketFor(8e6) as NonNullable<ReturnType<typeof bucketFor>>; // 1 MB/s, burst 1514
    const h: Hop[] = [{ impairment: imp({ latencySeconds: 0.001 }), bucket: b }];
    const d = decideChunk({ ...base, hops: h, buckets: [fullBucket(b, 0)], bytes: 11_514, sentNs: 0 });
    assert.equal(d.releaseNs, 10 * MS + 1 * MS);
    assert.equal(d.buckets[0]?.tokens, -10_000);
  });
  it('loss mode none ignores loss; rto adds the retransmission timeout with the chunk loss probability', () => {
    const lossy: Hop[] = [{ impairment: imp({ loss: 0.5 }), bucket: null }];
    assert.equal(decideChunk({ ...base, hops: lossy, buckets: [null], sentNs: 0 }).penalties, 0);
    const always = decideChunk({
      ...base,
      hops: lossy,
      buckets: [null],
      sentNs: 0,
      lossMode: 'rto',
      rng: () => 0,
    });
    assert.equal(always.penalties, 1);
    assert.equal(always.releaseNs, 5 * MS + RTO_MIN_SECONDS * 1e9);
    const never = decideChunk({
      ...base,
      hops: lossy,
      buckets: [null],
      sentNs: 0,
      lossMode: 'rto',
      rng: () => 0.99,
    });
    assert.equal(never.penalties, 0);
  });
  it('a chunk of many segments is lost if any segment is', () => {
    assert.ok(Math.abs(chunkLossProbability(0.1, 1) - 0.1) < 1e-12);
    assert.ok(Math.abs(chunkLossProbability(0.1, 1448 * 2) - 0.19) < 1e-12);
    assert.equal(chunkLossProbability(0, 64_000), 0);
  });
});

describe('handshake', () => {
  it('dials one forward delay after the accept; set-up completes one reverse delay after the server answered', () => {
    const fwd = controlDelayNs([{ impairment: imp({ latencySeconds: 0.006 }), bucket: null }], noRng, 'none');
    assert.equal(fwd, 6 * MS);
    assert.deepEqual(handshake(1 * MS, fwd), { dialAtNs: 7 * MS });
    assert.equal(establishedAt(7.2 * MS, 6 * MS), 13.2 * MS);
  });
  it('data the client sent early counts as sent at set-up, so a first request pays two round trips', () => {
    const established = establishedAt(handshake(0, 6 * MS).dialAtNs, 6 * MS);
    const sent = sentAt(0.1 * MS, established);
    const hop: Hop[] = [{ impairment: imp({ latencySeconds: 0.006 }), bucket: null }];
    const atServer = decideChunk({
      hops: hop,
      buckets: [null],
      bytes: 10,
      sentNs: sent,
      previousReleaseNs: 0,
      rng: noRng,
      lossMode: 'none',
    }).releaseNs;
    assert.equal(atServer + 6 * MS, 24 * MS); // reply back at the client: 2 × 12 ms round trip
    assert.equal(sentAt(20 * MS, established), 20 * MS);
  });
  it('a lost SYN (loss mode rto) costs the initial SYN timeout', () => {
    const hop = [{ impairment: imp({ loss: 0.5 }), bucket: null }];
    assert.equal(
      controlDelayNs(hop, () => 0, 'rto', true),
      5 * MS + 1e9,
    );
    assert.equal(
      controlDelayNs(hop, () => 0, 'none', true),
      5 * MS,
    );
  });
});

describe('extremes: nothing a profile can say makes a release time infinite, NaN or beyond the clock', () => {
  const zeros = (n: number) => '0'.repeat(n);
  // Each field at the edges of what it may be written as: tiny, huge, absurdly precise, denormal, overflowing.
  // The validator's own bounds first (RANGES: each at its minimum, maximum and one step inside), then what lies
  // beyond them, which it should refuse and the clamps must hold all the same.
  const { durationSeconds: d, rateBitsPerSecond: r, loss: l } = RANGES;
  const us = (seconds: number) => `${Math.round(seconds * 1e6)}us`;
  const durations = [
    us(d.min),
    us(d.min + d.step),
    us(d.max - d.step),
    us(d.max),
    '0ms',
    '0.000001us',
    `0.${zeros(400)}1s`,
    `0.${zeros(319)}1ms`,
    '9.999999999999999999999999s',
    '10s',
    `1${zeros(400)}us`,
  ];
  const rates = [
    `${r.min}bit`,
    `${r.min + r.step}bit`,
    `${r.max - r.step}bit`,
    `${r.max}bit`,
    `0.${zeros(319)}1bit`, // a denormal: 64 KiB at this rate takes longer than a double can count
    `0.${zeros(20)}1bit`,
    '1bit',
    '1.000000000000000000000000001kbit',
    '10Gbit',
    `1${zeros(300)}Gbit`,
    `1${zeros(400)}Gbit`, // Infinity
  ];
  const losses = [
    `${l.min}`,
    `${(l.below - l.step).toFixed(6)}`,
    '0%',
    '0.9999999999999999',
    '99.99999999999999%',
    `0.${zeros(400)}1%`,
  ];
  const link = (f: {
    latency?: string;
    jitter?: string;
    rate?: string;
    loss?: string;
    distribution?: string;
  }) =>
    `{ ${Object.entries(f)
      .map(([k, v]) => `${k}: "${v}"`)
      .join(', ')} }`;
  const cases: string[] = [];
  for (const latency of durations) {
    for (const jitter of ['0ms', latency]) {
      for (const distribution of JITTER_DISTRIBUTIONS) cases.push(link({ latency, jitter, distribution }));
    }
  }
  for (const rate of rates) for (const latency of ['0ms', '10s']) cases.push(link({ latency, rate }));
  for (const loss of losses) cases.push(link({ latency: '1ms', loss, rate: '1bit' }));
  const accepted: Impairment[] = [];
  for (const c of cases) {
    const text = `apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: extreme\nlinks:\n  ue-edge: ${c}\n  edge-cloud: ${c}\n`;
    try {
      for (const l of parseProfileText(text, 'extreme').links) accepted.push(l.impairment);
    } catch (err) {
      if (!(err instanceof ProfileError)) throw err;
    }
  }
  // Behind the validator too: what a future validator might let through must not break the scheduler.
  const raw: Impairment[] = [Number.NaN, Number.POSITIVE_INFINITY, Number.MAX_VALUE, 5e-324, -1].flatMap(
    (x) => [
      imp({ latencySeconds: x }),
      imp({ latencySeconds: 1, jitterSeconds: x }),
      imp({ rateBitsPerSecond: x }),
      imp({ loss: x }),
    ],
  );
  const DAY_NS = 86_400e9;

  it('the validator accepts some of these extremes, so the clamps below are what holds them', () => {
    assert.ok(accepted.length > 20, `accepted ${accepted.length} of ${cases.length * 2} directed links`);
  });

  for (const [name, impairments] of [
    ['accepted by the validator', accepted],
    ['not numbers, infinite, denormal or negative', raw],
  ] as const) {
    it(`${name}: every release is finite, in order, and at most MAX_HOLD_NS after the chunk was sent`, () => {
      const rng = seededRng(11);
      for (const impairment of impairments) {
        for (const lossMode of ['none', 'rto'] as const) {
          const hops: Hop[] = [impairment, impairment].map((i) => ({
            impairment: i,
            bucket: bucketFor(i.rateBitsPerSecond),
          }));
          for (const start of [0, 100 * DAY_NS]) {
            let buckets = hops.map((h) => (h.bucket ? fullBucket(h.bucket, start) : null));
            let previous = 0;
            let sent = start;
            for (let i = 0; i < 40; i++) {
              // Equal send times (chunks held through the handshake) and a few big ones among small.
              if (i % 3 === 0) sent += 1000;
              const bytes = [0, 1, 1448, 65536, 4 * 1024 * 1024][i % 5] as number;
              const d = decideChunk({
                hops,
                buckets,
                bytes,
                sentNs: sent,
                previousReleaseNs: previous,
                rng,
                lossMode,
              });
              const at = JSON.stringify({ impairment, lossMode, start, i });
              assert.ok(Number.isFinite(d.releaseNs), `release ${d.releaseNs} at ${at}`);
              assert.ok(d.releaseNs >= sent && d.releaseNs >= previous, `released early at ${at}`);
              assert.ok(d.releaseNs <= sent + MAX_HOLD_NS, `held ${(d.releaseNs - sent) / 1e9} s at ${at}`);
              assert.ok(BigInt(Math.ceil(d.releaseNs)) < 2n ** 63n);
              for (const b of d.buckets)
                assert.ok(b === null || (Number.isFinite(b.tokens) && Number.isFinite(b.atNs)), at);
              buckets = d.buckets;
              previous = d.releaseNs;
            }
            const control = controlDelayNs(hops, rng, lossMode, true);
            assert.ok(
              Number.isFinite(control) && control >= 0 && control <= MAX_HOLD_NS,
              `control ${control}`,
            );
          }
        }
      }
    });
  }

  it('clamps a rate into what the bucket can pace, and a value to its range', () => {
    assert.equal(bucketFor(5e-324)?.rateBytesPerSecond, MIN_RATE_BITS_PER_SECOND / 8);
    assert.equal(bucketFor(Number.POSITIVE_INFINITY)?.rateBytesPerSecond, MAX_RATE_BITS_PER_SECOND / 8);
    assert.equal(bucketFor(Number.NaN)?.rateBytesPerSecond, MIN_RATE_BITS_PER_SECOND / 8);
    assert.equal(within(Number.NaN, 1, 2), 1);
    assert.equal(within(3, 1, 2), 2);
    assert.equal(within(0, 1, 2), 1);
  });
});
