// Generators of image bodies for the inspect fuzz test: valid PNGs changed byte by byte, PNGs assembled from
// random chunks (any IHDR, chunks out of order, unknown critical chunks, image data of any size), and the
// hostile shapes of test/support/png.ts with random sizes.
import { deflateSync } from 'node:zlib';
import { encodeGrayPng, syntheticImage } from '../../services/workloads/inspect/synthetic.ts';
import { fc } from '../support/fuzz.ts';
import {
  ihdrChunk,
  inflationBombPng,
  manyChunksPng,
  pngChunk,
  pngFile,
  secondIhdrPng,
  textBombPng,
  zeroPng,
} from '../support/png.ts';

export interface ImageCase {
  contentType: string;
  /** Raw grey bodies carry their dimensions in the query. */
  query: string;
  body: Uint8Array;
}

const VALID = encodeGrayPng(syntheticImage({ width: 64, height: 48, defects: 2, seed: 3 }));

/** `bytes` with a few bytes flipped, cut, repeated or inserted. */
function mutatedBytes(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.tuple(
    fc.constantFrom('flip', 'cut', 'insert', 'repeat', 'truncate'),
    fc.nat({ max: bytes.length }),
    fc.nat({ max: 64 }),
    fc.uint8Array({ maxLength: 16 }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    let out = Buffer.from(bytes);
    for (const [kind, at, length, insert] of edits) {
      const i = Math.min(at, out.length);
      if (kind === 'flip' && i < out.length) out[i] = (out[i] as number) ^ (1 + (length % 255));
      else if (kind === 'cut') out = Buffer.concat([out.subarray(0, i), out.subarray(i + length)]);
      else if (kind === 'insert') out = Buffer.concat([out.subarray(0, i), insert, out.subarray(i)]);
      else if (kind === 'repeat')
        out = Buffer.concat([
          out.subarray(0, i + length),
          out.subarray(i, i + length),
          out.subarray(i + length),
        ]);
      else if (kind === 'truncate') out = out.subarray(0, i);
    }
    return out;
  });
}

const dimension = fc.oneof(
  fc.constantFrom(0, 1, 2, 7, 8, 64, 4096, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1),
  fc.integer({ min: 1, max: 3000 }),
);

/** A PNG assembled from random chunks around a random IHDR. */
function assembledPng(): fc.Arbitrary<Uint8Array> {
  const ihdr = fc.record({
    width: dimension,
    height: dimension,
    bitDepth: fc.oneof(fc.constantFrom(1, 2, 4, 8, 16), fc.nat({ max: 255 })),
    colorType: fc.oneof(fc.constantFrom(0, 2, 3, 4, 6), fc.nat({ max: 255 })),
    interlace: fc.oneof(fc.constantFrom(0, 1), fc.nat({ max: 255 })),
  });
  const chunk = fc.oneof(
    fc
      .nat({ max: 4 * 1024 * 1024 })
      .map((n) => deflateSync(Buffer.alloc(n)).subarray(0))
      .map((d) => pngChunk('IDAT', d)),
    fc.uint8Array({ maxLength: 256 }).map((d) => pngChunk('IDAT', d)),
    fc.uint8Array({ maxLength: 768 }).map((d) => pngChunk('PLTE', d)),
    fc.uint8Array({ maxLength: 256 }).map((d) => pngChunk('tRNS', d)),
    fc.uint8Array({ maxLength: 64 }).map((d) => pngChunk('iCCP', d)),
    fc.uint8Array({ maxLength: 64 }).map((d) => pngChunk('zTXt', d)),
    fc
      .tuple(fc.stringMatching(/^[A-Za-z]{4}$/), fc.uint8Array({ maxLength: 64 }))
      .map(([t, d]) => pngChunk(t, d)),
    ihdr.map((h) => ihdrChunk(h)),
  );
  return fc.tuple(ihdr, fc.array(chunk, { maxLength: 6 }), fc.boolean()).map(([h, chunks, end]) => {
    const file = pngFile([ihdrChunk(h), ...chunks]);
    return end ? file : file.subarray(0, file.length - 12); // without IEND
  });
}

/** The hostile shapes with sizes drawn at random (kept small enough to generate quickly). */
function hostilePng(): fc.Arbitrary<Uint8Array> {
  const small = fc.record({
    width: fc.integer({ min: 1, max: 256 }),
    height: fc.integer({ min: 1, max: 256 }),
  });
  return fc.oneof(
    fc.tuple(small, fc.integer({ min: 1, max: 16 * 1024 * 1024 })).map(([h, n]) => inflationBombPng(h, n)),
    fc.tuple(small, fc.integer({ min: 1, max: 16 * 1024 * 1024 })).map(([h, n]) => textBombPng(h, n)),
    fc.tuple(small, fc.integer({ min: 1, max: 20_000 })).map(([h, n]) => manyChunksPng(h, n)),
    fc.tuple(small, dimension, dimension).map(([h, w, hh]) => secondIhdrPng(h, { width: w, height: hh })),
    fc
      .record({
        width: fc.integer({ min: 1, max: 4096 }),
        height: fc.integer({ min: 1, max: 2048 }),
        bitDepth: fc.constantFrom(8, 16),
        colorType: fc.constantFrom(0, 2, 4, 6),
        interlace: fc.constantFrom(0, 1),
      })
      .map((h) => zeroPng(h)),
  );
}

export function imageCase(): fc.Arbitrary<ImageCase> {
  const png = fc.oneof(
    { weight: 3, arbitrary: mutatedBytes(VALID) },
    { weight: 3, arbitrary: assembledPng() },
    { weight: 2, arbitrary: hostilePng() },
  );
  const raw = fc
    .tuple(dimension, dimension, fc.nat({ max: 70_000 }))
    .map(([w, h, n]) => ({ query: `width=${w}&height=${h}`, body: new Uint8Array(n) }));
  return fc.oneof(
    { weight: 8, arbitrary: png.map((body) => ({ contentType: 'image/png', query: '', body })) },
    { weight: 1, arbitrary: raw.map((r) => ({ contentType: 'application/octet-stream', ...r })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom('image/jpeg', 'text/plain', 'image/png; charset=x', ''), png)
        .map(([contentType, body]) => ({ contentType, query: '', body })),
    },
  );
}
