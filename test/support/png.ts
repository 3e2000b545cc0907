// PNG files built chunk by chunk, for tests that need PNGs no encoder would write: a second IHDR, an interlaced
// image whose data inflates far past its size, a 16-bit RGBA image of zeros (tiny on the wire, large decoded).
// Every chunk gets a correct CRC, so a decoder cannot refuse these for a checksum.
import { crc32, deflateSync } from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export interface Ihdr {
  width: number;
  height: number;
  /** 1, 2, 4, 8 or 16 (what is valid depends on the colour type). */
  bitDepth?: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA. */
  colorType?: number;
  /** 0 none, 1 Adam7. */
  interlace?: number;
}

/** One chunk: length, type, data, CRC over type and data. */
export function pngChunk(type: string, data: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(data, crc32(head.subarray(4))), 0);
  return Buffer.concat([head, data, crc]);
}

export function ihdrChunk(h: Ihdr): Buffer {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(h.width, 0);
  data.writeUInt32BE(h.height, 4);
  data[8] = h.bitDepth ?? 8;
  data[9] = h.colorType ?? 0;
  data[12] = h.interlace ?? 0;
  return pngChunk('IHDR', data);
}

/** IDAT chunks holding `raw` (filter bytes included) deflated at level 9, split like encoders split them. */
export function idatChunks(raw: Uint8Array, chunkBytes = 64 * 1024): Buffer[] {
  const compressed = deflateSync(raw, { level: 9 });
  const chunks: Buffer[] = [];
  for (let at = 0; at < compressed.length; at += chunkBytes) {
    chunks.push(pngChunk('IDAT', compressed.subarray(at, at + chunkBytes)));
  }
  return chunks;
}

export function pngFile(chunks: readonly Uint8Array[]): Buffer {
  return Buffer.concat([SIGNATURE, ...chunks, pngChunk('IEND')]);
}

/** Bytes per pixel-row of the raw (filtered) stream of a non-interlaced image, the filter byte included. */
export function rowBytes(h: Ihdr): number {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[h.colorType ?? 0] ?? 1;
  return Math.ceil((h.width * channels * (h.bitDepth ?? 8)) / 8) + 1;
}

// Adam7's seven passes: first column, first row, column step, row step (PNG spec, 8.2).
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** Bytes of the whole raw (filtered) stream of `h`, interlaced or not. */
export function rawBytes(h: Ihdr): number {
  if (!h.interlace) return rowBytes(h) * h.height;
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const width = Math.ceil((h.width - x0) / dx);
    const height = Math.ceil((h.height - y0) / dy);
    if (width > 0 && height > 0) total += rowBytes({ ...h, width }) * height;
  }
  return total;
}

/** A valid PNG whose every pixel is zero (filter 0 on every row): decodes to `h`'s full size. */
export function zeroPng(h: Ihdr): Buffer {
  return pngFile([ihdrChunk(h), ...idatChunks(Buffer.alloc(rawBytes(h)))]);
}

/** Hostile: an interlaced `h` whose IDAT inflates to `inflatedBytes` of zeros, far more than the image needs. */
export function inflationBombPng(h: Ihdr, inflatedBytes: number): Buffer {
  return pngFile([ihdrChunk({ ...h, interlace: 1 }), ...idatChunks(Buffer.alloc(inflatedBytes))]);
}

/** Hostile: a small first IHDR (what a header check reads), then a second one claiming `real`. */
export function secondIhdrPng(first: Ihdr, real: Ihdr): Buffer {
  return pngFile([ihdrChunk(first), ihdrChunk(real), ...idatChunks(Buffer.alloc(rowBytes(real) * 4))]);
}

/** Hostile: a valid small image with an ancillary chunk whose compressed text (zTXt) inflates to `bytes`. */
export function textBombPng(h: Ihdr, bytes: number): Buffer {
  const text = Buffer.concat([
    Buffer.from('Comment\0\0', 'latin1'),
    deflateSync(Buffer.alloc(bytes, 0x61), { level: 9 }),
  ]);
  return pngFile([ihdrChunk(h), pngChunk('zTXt', text), ...idatChunks(Buffer.alloc(rawBytes(h)))]);
}

/** Hostile: a valid small image preceded by `count` tiny text chunks (a decoder that keeps each one grows). */
export function manyChunksPng(h: Ihdr, count: number): Buffer {
  const one = pngChunk('tEXt', Buffer.from('k\0v', 'latin1'));
  return pngFile([
    ihdrChunk(h),
    ...Array.from({ length: count }, () => one),
    ...idatChunks(Buffer.alloc(rawBytes(h))),
  ]);
}
