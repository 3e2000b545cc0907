import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../skeleton/index.ts';
import { decodePng, decodeRaw, parseDimension, readPngHeader } from './decode.ts';
import { DEFAULT_DETECT_OPTIONS, detectDefects } from './detect.ts';
import { goldenReference, renderGolden } from './golden.ts';
import { encodeGrayPng, type PlantedDefect, syntheticImage } from './synthetic.ts';

function isHttpError(status: number, code: string) {
  return (err: unknown) => err instanceof HttpError && err.status === status && err.code === code;
}

/** Every planted defect lies inside exactly one detected box (the 3x3 smoothing may widen a box by a pixel). */
function assertFound(
  planted: PlantedDefect[],
  found: { x: number; y: number; width: number; height: number }[],
) {
  assert.equal(
    found.length,
    planted.length,
    `planted ${JSON.stringify(planted)}, found ${JSON.stringify(found)}`,
  );
  for (const p of planted) {
    const matches = found.filter(
      (f) =>
        f.x <= p.x + 1 &&
        f.y <= p.y + 1 &&
        f.x + f.width >= p.x + p.width - 1 &&
        f.y + f.height >= p.y + p.height - 1,
    );
    assert.equal(
      matches.length,
      1,
      `planted ${JSON.stringify(p)} should be inside one of ${JSON.stringify(found)}`,
    );
    const box = matches[0] as { x: number; y: number; width: number; height: number };
    assert.ok(box.width <= p.width + 2 && box.height <= p.height + 2, `box ${JSON.stringify(box)} is tight`);
  }
}

describe('defect detection', () => {
  it('finds every planted defect, with bounding boxes, and fails the part', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const image = syntheticImage({ width: 320, height: 240, defects: 1 + (seed % 5), seed });
      const result = detectDefects(image, goldenReference(320, 240));
      assert.equal(result.verdict, 'fail');
      assert.equal(result.defectCount, image.planted.length);
      assertFound(image.planted, result.defects);
      for (const defect of result.defects) {
        assert.ok(defect.area >= DEFAULT_DETECT_OPTIONS.minArea);
        assert.ok(defect.meanDifference >= DEFAULT_DETECT_OPTIONS.threshold / 2);
      }
    }
  });

  it('finds nothing on clean parts (noise alone never passes the threshold)', () => {
    for (const [width, height, seed] of [
      [320, 240, 1],
      [640, 480, 2],
      [97, 61, 3],
      [16, 16, 4],
      [1024, 32, 5],
    ] as const) {
      const image = syntheticImage({ width, height, defects: 0, seed, noise: 12 });
      const result = detectDefects(image, goldenReference(width, height));
      assert.deepEqual(result, { verdict: 'pass', width, height, defectCount: 0, defects: [] });
    }
  });

  it('the golden reference itself passes; a defect on the image border is still found', () => {
    const reference = renderGolden(64, 64);
    assert.equal(detectDefects({ width: 64, height: 64, pixels: reference }, reference).verdict, 'pass');
    const pixels = Uint8Array.from(reference);
    for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) pixels[y * 64 + x] = 255;
    const result = detectDefects({ width: 64, height: 64, pixels }, reference);
    assert.equal(result.defectCount, 1);
    assert.deepEqual({ x: result.defects[0]?.x, y: result.defects[0]?.y }, { x: 0, y: 0 });
  });

  it('minArea drops small components and threshold controls sensitivity', () => {
    const image = syntheticImage({ width: 320, height: 240, defects: 3, seed: 11 });
    const reference = goldenReference(320, 240);
    assert.equal(
      detectDefects(image, reference, { ...DEFAULT_DETECT_OPTIONS, minArea: 100_000 }).defectCount,
      0,
    );
    assert.equal(
      detectDefects(image, reference, { ...DEFAULT_DETECT_OPTIONS, threshold: 255 }).defectCount,
      0,
    );
    const noisy = syntheticImage({ width: 320, height: 240, defects: 0, seed: 11, noise: 30 });
    assert.ok(
      detectDefects(noisy, reference, { threshold: 1, minArea: 1, maxDefects: 5 }).defects.length <= 5,
    );
  });

  it('refuses an image and reference of different sizes', () => {
    assert.throws(
      () => detectDefects({ width: 2, height: 2, pixels: new Uint8Array(4) }, new Uint8Array(9)),
      RangeError,
    );
  });

  it('synthetic images are deterministic per seed', () => {
    const a = syntheticImage({ width: 100, height: 80, defects: 2, seed: 9 });
    const b = syntheticImage({ width: 100, height: 80, defects: 2, seed: 9 });
    assert.deepEqual(a.planted, b.planted);
    assert.deepEqual(a.pixels, b.pixels);
    assert.notDeepEqual(syntheticImage({ width: 100, height: 80, defects: 2, seed: 10 }).planted, a.planted);
  });
});

describe('image decoding', () => {
  const image = syntheticImage({ width: 120, height: 90, defects: 2, seed: 3 });
  const png = encodeGrayPng(image);

  it('round-trips a greyscale PNG and finds the same defects as the raw pixels', async () => {
    const decoded = await decodePng(png, 1_000_000);
    assert.equal(decoded.width, 120);
    assert.equal(decoded.height, 90);
    assert.deepEqual(decoded.pixels, image.pixels);
    assertFound(image.planted, detectDefects(decoded, goldenReference(120, 90)).defects);
  });

  it('reads the PNG header', () => {
    assert.deepEqual(readPngHeader(png), { width: 120, height: 90, bitDepth: 8, colorType: 0 });
  });

  it('refuses a header claiming huge dimensions before decoding (no allocation)', async () => {
    // A 33-byte PNG (signature + IHDR only) claiming 60000 x 60000 = 3.6 gigapixels.
    const bomb = Buffer.from(png.subarray(0, 33));
    bomb.writeUInt32BE(60000, 16);
    bomb.writeUInt32BE(60000, 20);
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(decodePng(bomb, 4_000_000), isHttpError(413, 'image_too_large'));
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
    bomb.writeUInt32BE(0xffffffff, 16);
    await assert.rejects(decodePng(bomb, 4_000_000), isHttpError(413, 'image_too_large'));
  });

  const broken: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['not a PNG', Buffer.from('GIF89a this is not a png at all, not at all')],
    ['truncated inside the header', png.subarray(0, 20)],
    ['truncated inside the image data', png.subarray(0, Math.floor(png.length / 2))],
    ['zero width', Buffer.concat([png.subarray(0, 16), Buffer.alloc(4), png.subarray(20)])],
    ['invalid bit depth', Buffer.concat([png.subarray(0, 24), Buffer.from([3]), png.subarray(25)])],
    ['corrupt image data', Buffer.concat([png.subarray(0, 60), Buffer.alloc(200, 0xaa), png.subarray(260)])],
  ];
  for (const [name, body] of broken) {
    it(`refuses a PNG that is ${name} with 400 undecodable_image`, async () => {
      await assert.rejects(decodePng(body, 1_000_000), isHttpError(400, 'undecodable_image'));
    });
  }

  it('decodes colour PNGs to luma', async () => {
    const { PNG } = await import('pngjs');
    const color = new PNG({ width: 2, height: 1 });
    color.data = Buffer.from([255, 0, 0, 255, 255, 255, 255, 255]);
    const decoded = await decodePng(PNG.sync.write(color), 100);
    assert.deepEqual([...decoded.pixels], [76, 255]);
  });

  it('raw grey: exact size accepted, wrong size or too many pixels refused', () => {
    assert.equal(decodeRaw(Buffer.alloc(12), 4, 3, 100).pixels.length, 12);
    assert.throws(() => decodeRaw(Buffer.alloc(11), 4, 3, 100), isHttpError(400, 'size_mismatch'));
    assert.throws(() => decodeRaw(Buffer.alloc(13), 4, 3, 100), isHttpError(400, 'size_mismatch'));
    assert.throws(() => decodeRaw(Buffer.alloc(12), 4, 3, 11), isHttpError(413, 'image_too_large'));
  });

  it('raw grey dimensions must be whole numbers 1..65535', () => {
    assert.equal(parseDimension('width', '640'), 640);
    for (const bad of [undefined, '', '0', '-1', '65536', '1.5', 'x', ['1']]) {
      assert.throws(() => parseDimension('width', bad), isHttpError(400, 'invalid_dimensions'));
    }
  });
});
