// Writes request measurements to Prometheus exactly as k6's experimental-prometheus-rw output does with
// K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true (grafana/xk6-output-prometheus-remote, pkg/remotewrite):
// `k6_` prefix; trends as native histograms in base units (k6_http_req_duration_seconds: client_golang
// histogram with bucket factor 1.1 = schema 3, zero threshold 2^-128, cumulative since the start); counters
// `_total`; rates `_rate` (share since the start); k6's tags as labels, sorted, empty ones dropped; a remote
// write request (protobuf, snappy) per push interval. k6 cannot run here, so the CI proof feeds the k6 panels
// with this, from real requests its open-model generator made.
import { request } from 'node:http';

export type Tags = Record<string, string>;

/** client_golang's DefNativeHistogramZeroThreshold (2^-128), which k6 keeps. */
export const ZERO_THRESHOLD = 2 ** -128;
/** NativeHistogramBucketFactor 1.1 → the largest schema whose factor 2^(2^-schema) ≤ 1.1: 2^(1/8) ≈ 1.0905. */
export const SCHEMA = 3;

/** The native bucket a positive value falls in: bucket i holds (2^((i-1)/2^s), 2^(i/2^s)]. */
export function bucketIndex(value: number, schema = SCHEMA): number {
  // `+ 0` turns -0 (for exactly 1) into 0; the epsilon keeps exact bucket boundaries in the lower bucket.
  return Math.ceil(Math.log2(value) * 2 ** schema - 1e-9) + 0;
}

export class NativeHistogram {
  count = 0;
  sum = 0;
  zeroCount = 0;
  readonly buckets = new Map<number, number>();

  observe(value: number): void {
    this.count++;
    this.sum += value;
    if (value <= ZERO_THRESHOLD) this.zeroCount++;
    else {
      const i = bucketIndex(value);
      this.buckets.set(i, (this.buckets.get(i) ?? 0) + 1);
    }
  }

  /** Spans (offset from the previous span's end, length) and delta-encoded counts, as remote write wants. */
  spansAndDeltas(): { spans: Array<{ offset: number; length: number }>; deltas: number[] } {
    const keys = [...this.buckets.keys()].sort((a, b) => a - b);
    const spans: Array<{ offset: number; length: number }> = [];
    const deltas: number[] = [];
    let previousKey: number | undefined;
    let previousCount = 0;
    for (const key of keys) {
      const last = spans[spans.length - 1];
      if (previousKey !== undefined && key === previousKey + 1 && last) last.length++;
      else spans.push({ offset: previousKey === undefined ? key : key - previousKey - 1, length: 1 });
      const count = this.buckets.get(key) ?? 0;
      deltas.push(count - previousCount);
      previousCount = count;
      previousKey = key;
    }
    return { spans, deltas };
  }
}

// --- protobuf (prompb WriteRequest), just the fields remote write uses ------------------------------------
class Pb {
  private readonly parts: Buffer[] = [];
  varint(n: bigint | number): this {
    let v = BigInt(n);
    const bytes: number[] = [];
    do {
      let b = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) b |= 0x80;
      bytes.push(b);
    } while (v > 0n);
    this.parts.push(Buffer.from(bytes));
    return this;
  }
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  uint(field: number, n: number): this {
    return this.key(field, 0).varint(n);
  }
  sint(field: number, n: number): this {
    return this.key(field, 0).varint(zigzag(n));
  }
  double(field: number, x: number): this {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(x);
    this.key(field, 1);
    this.parts.push(b);
    return this;
  }
  bytes(field: number, b: Buffer): this {
    this.key(field, 2).varint(b.length);
    this.parts.push(b);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, Buffer.from(s, 'utf8'));
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function zigzag(n: number): bigint {
  const v = BigInt(n);
  return v >= 0n ? v << 1n : (-v << 1n) - 1n;
}

function labelsPb(name: string, tags: Tags): Buffer[] {
  const all = { ...Object.fromEntries(Object.entries(tags).filter(([, v]) => v !== '')), __name__: name };
  return Object.keys(all)
    .sort()
    .map((k) =>
      new Pb()
        .string(1, k)
        .string(2, all[k as keyof typeof all] ?? '')
        .done(),
    );
}

export interface Series {
  name: string;
  tags: Tags;
  sample?: number;
  histogram?: NativeHistogram;
}

export function encodeWriteRequest(series: Series[], timestampMs: number): Buffer {
  const out = new Pb();
  for (const s of series) {
    const ts = new Pb();
    for (const l of labelsPb(s.name, s.tags)) ts.bytes(1, l);
    if (s.sample !== undefined) ts.bytes(2, new Pb().double(1, s.sample).uint(2, timestampMs).done());
    if (s.histogram) {
      const h = s.histogram;
      const { spans, deltas } = h.spansAndDeltas();
      const hb = new Pb()
        .uint(1, h.count)
        .double(3, h.sum)
        .sint(4, SCHEMA)
        .double(5, ZERO_THRESHOLD)
        .uint(6, h.zeroCount);
      for (const span of spans) hb.bytes(11, new Pb().sint(1, span.offset).uint(2, span.length).done());
      if (deltas.length > 0) {
        const packed = new Pb();
        for (const d of deltas) packed.varint(zigzag(d));
        hb.bytes(12, packed.done());
      }
      hb.uint(15, timestampMs);
      ts.bytes(4, hb.done());
    }
    out.bytes(1, ts.done());
  }
  return out.done();
}

/** Snappy block format with literals only: valid input for any snappy decoder, and all we need. */
export function snappyLiteral(data: Buffer): Buffer {
  const parts: Buffer[] = [new Pb().varint(data.length).done()];
  for (let at = 0; at < data.length; at += 65536) {
    const chunk = data.subarray(at, at + 65536);
    const n = chunk.length - 1;
    if (n < 60) parts.push(Buffer.from([n << 2]));
    else if (n < 256) parts.push(Buffer.from([60 << 2, n]));
    else parts.push(Buffer.from([61 << 2, n & 0xff, n >> 8]));
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

/** The k6 metrics our dashboards read, per tag set, kept cumulative like k6's sinks. */
export class K6RemoteWrite {
  private readonly durations = new Map<string, { tags: Tags; h: NativeHistogram }>();
  private readonly reqs = new Map<string, { tags: Tags; n: number }>();
  private readonly failed = new Map<string, { tags: Tags; fails: number; total: number }>();
  pushes = 0;
  private readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  /** One HTTP request as k6 tags it: system tags (status, method, name, scenario, expected_response, proto). */
  record(tags: Tags, seconds: number, ok: boolean): void {
    const key = JSON.stringify(Object.entries(tags).sort());
    const d = this.durations.get(key) ?? { tags, h: new NativeHistogram() };
    d.h.observe(seconds);
    this.durations.set(key, d);
    const r = this.reqs.get(key) ?? { tags, n: 0 };
    r.n++;
    this.reqs.set(key, r);
    const f = this.failed.get(key) ?? { tags, fails: 0, total: 0 };
    f.total++;
    if (!ok) f.fails++;
    this.failed.set(key, f);
  }

  series(): Series[] {
    return [
      ...[...this.durations.values()].map((d) => ({
        name: 'k6_http_req_duration_seconds',
        tags: d.tags,
        histogram: d.h,
      })),
      ...[...this.reqs.values()].map((r) => ({ name: 'k6_http_reqs_total', tags: r.tags, sample: r.n })),
      ...[...this.failed.values()].map((f) => ({
        name: 'k6_http_req_failed_rate',
        tags: f.tags,
        sample: f.fails / f.total,
      })),
    ];
  }

  async push(now = Date.now()): Promise<void> {
    const series = this.series();
    if (series.length === 0) return;
    const body = snappyLiteral(encodeWriteRequest(series, now));
    await new Promise<void>((resolve, reject) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/x-protobuf',
            'content-encoding': 'snappy',
            'x-prometheus-remote-write-version': '0.1.0',
            'user-agent': 'k6-shaped-remote-write (mec-testbed CI)',
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () =>
            res.statusCode && res.statusCode < 300
              ? resolve()
              : reject(new Error(`remote write answered ${res.statusCode}: ${text}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    this.pushes++;
  }
}
