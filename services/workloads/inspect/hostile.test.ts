// PNGs made to exhaust a decoder: each is decoded in a fresh process whose peak memory is measured, and must
// cost no more than decodeBytesBound() says (plus a fixed allowance for libvips's row buffers and the
// allocator), whatever its header claims. The pure-JS decoder the service used before took 650 MiB for the
// 151-byte second-IHDR file, 515 MiB for the interlaced inflation bomb and 235 MiB for the 16-bit RGBA one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peakMemory } from '../../../test/support/peak-memory.ts';
import {
  type Ihdr,
  idatChunks,
  ihdrChunk,
  inflationBombPng,
  manyChunksPng,
  pngFile,
  secondIhdrPng,
  textBombPng,
  zeroPng,
} from '../../../test/support/png.ts';
import { decodeBytesBound } from './decode.ts';

const MAX_PIXELS = 4096 * 2048;
/** libvips's per-thread state, the allocator's arenas: measured at 1-4 MiB here, allowed 16. */
const ALLOWANCE_BYTES = 16 * 1024 * 1024;
const INFLATED = 64 * 1024 * 1024;
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };

interface Case {
  name: string;
  body: () => Buffer;
  /** The image the decoder may legitimately produce (its memory bound), or none when it must refuse. */
  image?: Ihdr;
  status: 200 | 400 | 413;
}

const SMALL: Ihdr = { width: 64, height: 64 };
const AT_LIMIT: Ihdr = { width: 4096, height: 2048 };
const cases: Case[] = [
  {
    name: 'a second IHDR claiming 144 Mpx after a 16x16 one',
    body: () => secondIhdrPng({ width: 16, height: 16 }, { width: 12000, height: 12000 }),
    status: 400,
  },
  {
    name: 'a first IHDR over the pixel limit',
    body: () => zeroPng({ width: 4096, height: 4096 }),
    status: 413,
  },
  {
    name: 'a 64x64 interlaced image whose data inflates to 64 MiB',
    body: () => inflationBombPng(SMALL, INFLATED),
    image: { ...SMALL, interlace: 1 },
    status: 200,
  },
  {
    name: 'a 64x64 image whose data inflates to 64 MiB',
    body: () => pngFile([ihdrChunk(SMALL), ...idatChunks(Buffer.alloc(INFLATED))]),
    image: SMALL,
    status: 200,
  },
  {
    name: 'a zTXt chunk inflating to 64 MiB',
    body: () => textBombPng(SMALL, INFLATED),
    image: SMALL,
    status: 200,
  },
  {
    name: '100 000 text chunks',
    body: () => manyChunksPng(SMALL, 100_000),
    image: SMALL,
    status: 200,
  },
  {
    name: 'grey 8-bit at the pixel limit',
    body: () => zeroPng(AT_LIMIT),
    image: AT_LIMIT,
    status: 200,
  },
  {
    name: '16-bit RGBA at the pixel limit (64 KiB on the wire)',
    body: () => zeroPng({ ...AT_LIMIT, bitDepth: 16, colorType: 6 }),
    image: { ...AT_LIMIT, bitDepth: 16, colorType: 6 },
    status: 200,
  },
  {
    name: '16-bit RGBA, 65535x128 (the widest rows within the pixel limit)',
    body: () => zeroPng({ width: 65535, height: 128, bitDepth: 16, colorType: 6 }),
    image: { width: 65535, height: 128, bitDepth: 16, colorType: 6 },
    status: 200,
  },
  {
    name: 'interlaced 16-bit RGBA at the pixel limit',
    body: () => zeroPng({ ...AT_LIMIT, bitDepth: 16, colorType: 6, interlace: 1 }),
    image: { ...AT_LIMIT, bitDepth: 16, colorType: 6, interlace: 1 },
    status: 200,
  },
];

describe('hostile PNGs cost bounded memory', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.status === 200 ? 'decoded' : `refused with ${c.status}`} within its memory bound`, async () => {
      const result = await peakMemory({
        module: new URL('./decode.ts', import.meta.url),
        exportName: 'decodePng',
        input: c.body(),
        args: [MAX_PIXELS],
        warmUpInput: zeroPng({ width: 16, height: 16 }),
      });
      const outcome = result.outcome as { width?: number; error?: { status?: number; message: string } };
      if (c.status === 200) {
        assert.equal(outcome.error, undefined, `expected a decode, got ${JSON.stringify(outcome)}`);
        assert.deepEqual(outcome, { width: c.image?.width, height: c.image?.height });
      } else {
        assert.equal(outcome.error?.status, c.status, JSON.stringify(outcome));
      }
      const bound =
        ALLOWANCE_BYTES +
        (c.image
          ? decodeBytesBound({
              pixels: c.image.width * c.image.height,
              channels: CHANNELS[c.image.colorType ?? 0] ?? 4,
              bytesPerSample: (c.image.bitDepth ?? 8) > 8 ? 2 : 1,
              interlaced: c.image.interlace === 1,
            })
          : 0);
      const grew = (result.afterKiB - result.beforeKiB) * 1024;
      assert.ok(
        grew <= bound,
        `peak memory grew by ${(grew / 2 ** 20).toFixed(1)} MiB, bound ${(bound / 2 ** 20).toFixed(1)} MiB`,
      );
    });
  }
});
