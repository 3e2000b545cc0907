// Turning a request body into a grey image, refusing anything that is not one. PNGs are decoded by libvips
// (through sharp), whose PNG loader refuses what a header check alone cannot see: a second IHDR that changes
// the size after the first was checked, image data that inflates far past the image, chunks larger than
// libpng allows. The pixel limit is checked on the size libvips itself reads and decodes (its metadata), and
// again by libvips while it decodes (limitInputPixels), so no header the decoder ignores can bypass it. Raw
// grey bodies must be exactly width * height bytes.
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { HttpError } from '../../skeleton/http-error.ts';
import type { GrayImage } from './detect.ts';

export const PNG_TYPE = 'image/png';
export const RAW_TYPE = 'application/octet-stream';
export const MAX_DIMENSION = 65535;
/** A decode that takes longer than this is stopped (libvips checks while it works). A PNG within the pixel
 * limit decodes in well under a second here; this only bounds what a pathological input could cost. */
export const DECODE_TIMEOUT_SECONDS = 10;

// Every body is new, so libvips's operation cache would only hold memory; parallelism is the worker pool's
// business (SITE_CORES), so each decode uses one libvips thread.
sharp.cache(false);
sharp.concurrency(1);

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

/** Pure: the first IHDR's fields, or a 400 saying why the bytes are not a PNG. A quick refusal with a clear
 * message before libvips is asked; the limits that bind are checked on what libvips reads (decodePng). */
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

/** A 413 unless width x height fits the pixel limit and each side 65535. */
export function checkSize(width: number, height: number, maxPixels: number): void {
  if (width > MAX_DIMENSION || height > MAX_DIMENSION || width * height > maxPixels) {
    throw tooLarge(width, height, maxPixels);
  }
}

/**
 * Pure: the most a decode of this image holds, in bytes: the grey result (1 per pixel) plus the decoded
 * samples (channels x bytes per sample per pixel) of the rows libvips is working on, which for short, wide
 * images is all of them, and once more for interlaced images, which libvips decodes whole before it can
 * hand over a row. At the default INSPECT_MAX_PIXELS (8 Mi pixels): 16 MiB for grey, 72 MiB for 16-bit
 * RGBA, 136 MiB for interlaced 16-bit RGBA. The tests measure every shape against it.
 */
export function decodeBytesBound(image: {
  pixels: number;
  channels: number;
  bytesPerSample: number;
  interlaced: boolean;
}): number {
  return image.pixels * (1 + image.channels * image.bytesPerSample * (image.interlaced ? 2 : 1));
}

/** ITU-R BT.601 luma weights in 1/256ths (77 + 150 + 29 = 256), one row of the recombination matrix. */
const LUMA: [number, number, number] = [77 / 256, 150 / 256, 29 / 256];

/** libvips's words for "over the limit" (sharp passes them through as the error message). */
const LIMIT_ERROR = /pixel limit|exceeds (the )?limit/i;

/**
 * Decode a PNG to grey levels: grey images as they are (16-bit samples reduced to 8), colour ones to ITU-R
 * BT.601 luma of the 8-bit RGB samples; alpha is ignored. At most `maxPixels` pixels, counted on the image
 * libvips decodes; the memory it holds meanwhile is bounded by decodeBytesBound().
 */
export async function decodePng(body: Uint8Array, maxPixels: number): Promise<GrayImage> {
  const first = readPngHeader(body);
  checkSize(first.width, first.height, maxPixels);
  const input = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const open = () =>
    sharp(input, { limitInputPixels: maxPixels, sequentialRead: true, failOn: 'warning' }).timeout({
      seconds: DECODE_TIMEOUT_SECONDS,
    });
  let meta: Metadata;
  try {
    meta = await open().metadata();
  } catch (err) {
    throw undecodable(`PNG could not be read (${(err as Error).message.trim() || 'corrupt header'})`);
  }
  if (meta.format !== 'png') throw undecodable(`body decodes as ${meta.format}, not as a PNG`);
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  checkSize(width, height, maxPixels);
  if (width !== first.width || height !== first.height) {
    throw undecodable('PNG has more than one size (a second IHDR chunk?)');
  }
  // Grey (with or without alpha): the first band is the image. Colour: BT.601 luma of the 8-bit RGB samples,
  // computed by libvips (recomb truncates as the integer weights below would) so only one byte per pixel is
  // ever handed over, and the grey levels do not depend on libvips's own colour conversion.
  const grey = (meta.channels ?? 3) <= 2;
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    const pipeline = grey
      ? open().extractChannel(0)
      : open().removeAlpha().recomb([LUMA, LUMA, LUMA]).extractChannel(0);
    decoded = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const message = (err as Error).message.trim();
    if (LIMIT_ERROR.test(message)) throw tooLarge(width, height, maxPixels);
    throw undecodable(`PNG could not be decoded (${message || 'corrupt data'}); is it truncated or corrupt?`);
  }
  const { data, info } = decoded;
  if (
    info.width !== width ||
    info.height !== height ||
    info.channels !== 1 ||
    data.length !== width * height
  ) {
    throw undecodable('PNG decoded to a different size than its header claims');
  }
  return { width, height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.length) };
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
