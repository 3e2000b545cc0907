// Turning a request body into a grey image, refusing anything that is not one: the PNG header is read and its
// dimensions checked against the pixel limit BEFORE the decoder allocates (a 100-byte PNG may claim
// 65535 x 65535 pixels); raw grey bodies must be exactly width * height bytes.
import { PNG } from 'pngjs';
import { HttpError } from '../../skeleton/index.ts';
import type { GrayImage } from './detect.ts';

export const PNG_TYPE = 'image/png';
export const RAW_TYPE = 'application/octet-stream';
export const MAX_DIMENSION = 65535;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
// Allowed bit depths per PNG colour type (PNG spec, table 11.1).
const BIT_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

function undecodable(message: string): HttpError {
  return new HttpError(400, 'undecodable_image', message);
}

function tooLarge(width: number, height: number, maxPixels: number): HttpError {
  return new HttpError(
    413,
    'image_too_large',
    `image is ${width}x${height} = ${width * height} pixels; this service inspects at most ${maxPixels} (INSPECT_MAX_PIXELS)`,
  );
}

/** Pure: the IHDR fields of a PNG, or a 400 saying why the bytes are not a PNG. */
export function readPngHeader(body: Uint8Array): PngHeader {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(SIGNATURE))
    throw undecodable('body is not a PNG (bad signature)');
  if (buf.length < 33) throw undecodable('PNG is truncated inside its header');
  if (buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw undecodable('PNG does not start with a valid IHDR chunk');
  }
  const header = {
    width: buf.readUInt32BE(16),
    height: buf.readUInt32BE(20),
    bitDepth: buf[24] as number,
    colorType: buf[25] as number,
  };
  if (header.width === 0 || header.height === 0) throw undecodable('PNG has a zero width or height');
  if (!BIT_DEPTHS[header.colorType]?.includes(header.bitDepth)) {
    throw undecodable(
      `PNG has colour type ${header.colorType} with bit depth ${header.bitDepth}, which is invalid`,
    );
  }
  return header;
}

/** Decode a PNG to grey levels (ITU-R BT.601 luma of RGB; alpha is ignored). */
export function decodePng(body: Uint8Array, maxPixels: number): GrayImage {
  const header = readPngHeader(body);
  if (
    header.width > MAX_DIMENSION ||
    header.height > MAX_DIMENSION ||
    header.width * header.height > maxPixels
  ) {
    throw tooLarge(header.width, header.height, maxPixels);
  }
  let png: PNG;
  try {
    png = PNG.sync.read(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  } catch (err) {
    throw undecodable(`PNG could not be decoded (${(err as Error).message}); is it truncated or corrupt?`);
  }
  const n = png.width * png.height;
  if (png.width !== header.width || png.height !== header.height || png.data.length < n * 4) {
    throw undecodable('PNG decoded to a different size than its header claims');
  }
  const pixels = new Uint8Array(n);
  const rgba = png.data;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    pixels[i] =
      ((rgba[j] as number) * 77 + (rgba[j + 1] as number) * 150 + (rgba[j + 2] as number) * 29) >> 8;
  }
  return { width: png.width, height: png.height, pixels };
}

/** Pure: a dimension from the query or a header, as a whole number 1..65535. */
export function parseDimension(name: string, raw: unknown): number {
  if (typeof raw !== 'string' || !/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_DIMENSION) {
    throw new HttpError(
      400,
      'invalid_dimensions',
      `raw grey images need ${name} as a whole number from 1 to ${MAX_DIMENSION} (query ?width=&height= or headers x-image-width/x-image-height)`,
    );
  }
  return Number(raw);
}

export function decodeRaw(body: Uint8Array, width: number, height: number, maxPixels: number): GrayImage {
  if (width * height > maxPixels) throw tooLarge(width, height, maxPixels);
  if (body.byteLength !== width * height) {
    throw new HttpError(
      400,
      'size_mismatch',
      `raw grey body is ${body.byteLength} bytes but ${width}x${height} needs ${width * height} (one byte per pixel)`,
    );
  }
  return { width, height, pixels: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) };
}
