// The golden reference: what a defect-free part looks like. It is a pure function of the pixel position (a
// PCB-like pattern of pads and traces on a substrate), so the service and the image generator agree on it for
// any image size without shipping reference files.
import { ByteLru } from '../lru.ts';

export const SUBSTRATE = 70;
export const TRACE = 140;
export const PAD = 200;

/** Pure: the reference grey level at (x, y). */
export function goldenPixel(x: number, y: number): number {
  const px = x % 32;
  const py = y % 32;
  if (px >= 8 && px < 20 && py >= 8 && py < 20) return PAD;
  if (py >= 13 && py <= 15) return TRACE;
  if (x % 64 >= 30 && x % 64 <= 32) return TRACE;
  return SUBSTRATE;
}

export function renderGolden(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height);
  // One row of 64 pixels repeats horizontally and 32 rows repeat vertically: build each row from its period.
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + x] = goldenPixel(x, y);
  }
  return out;
}

// Factories inspect the same few resolutions over and over: keep their references (bounded by bytes).
const cache = new ByteLru<Uint8Array>(64 * 1024 * 1024);

export function goldenReference(width: number, height: number): Uint8Array {
  const key = `${width}x${height}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const reference = renderGolden(width, height);
  cache.set(key, reference);
  return reference;
}
