// Media segments: the cloud is the origin and makes each segment's bytes deterministically from its stream and
// number, so the edge's cached copy can be checked byte for byte and no media files are shipped.
import { createHash } from 'node:crypto';
import { badRequest } from '../../skeleton/index.ts';

export const MEDIA_TYPE = 'video/mp2t';
export const STREAM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/i;
export const MAX_SEGMENT = 999_999;

export interface SegmentId {
  stream: string;
  segment: number;
}

/** Pure: validate the path parameters (both sites use this, so the edge never forwards junk to the cloud). */
export function parseSegmentId(stream: unknown, segment: unknown): SegmentId {
  if (typeof stream !== 'string' || !STREAM_PATTERN.test(stream)) {
    throw badRequest(
      'invalid_stream',
      'stream must be 1-64 letters, digits, - or _, starting with a letter or digit',
    );
  }
  // Accept `42` and players' `42.ts`; the number is what identifies the segment.
  const match = typeof segment === 'string' ? /^(\d{1,6})(\.ts)?$/.exec(segment) : null;
  if (!match)
    throw badRequest(
      'invalid_segment',
      `segment must be a whole number from 0 to ${MAX_SEGMENT}, optionally with .ts`,
    );
  return { stream, segment: Number(match[1]) };
}

export function segmentKey(id: SegmentId): string {
  return `${id.stream}/${id.segment}`;
}

/** Pure: the segment's bytes, `size` long, from a SHA-256-seeded xorshift stream (fast, deterministic). */
export function segmentBytes(id: SegmentId, size: number): Buffer {
  const seed = createHash('sha256').update(segmentKey(id)).digest();
  const out = Buffer.allocUnsafe(size);
  let s0 = seed.readUInt32LE(0) | 1;
  let s1 = seed.readUInt32LE(4) | 1;
  let offset = 0;
  for (; offset + 4 <= size; offset += 4) {
    // xorshift64-ish on two 32-bit halves; quality is irrelevant, determinism and speed are what matter
    let t = s0 ^ (s0 << 11);
    s0 = s1;
    s1 = (s1 ^ (s1 >>> 19) ^ t ^ (t >>> 8)) >>> 0;
    t = s1;
    out.writeUInt32LE(t, offset);
  }
  for (; offset < size; offset++) out[offset] = (s0 >>> ((offset & 3) * 8)) & 0xff;
  return out;
}
