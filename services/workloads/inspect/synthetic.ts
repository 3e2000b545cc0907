// Test images for the inspect workload: the golden part plus sensor noise, with or without defects (spots and
// scratches), and the ground truth of where the defects are. Used by the tests, the bench and generate.ts.
import { PNG } from 'pngjs';
import { seededRng } from '../../topology/random.ts';
import type { GrayImage } from './detect.ts';
import { renderGolden } from './golden.ts';

export type DefectKind = 'spot' | 'scratch';

export interface PlantedDefect {
  kind: DefectKind;
  /** Bounding box of the changed pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SyntheticOptions {
  width: number;
  height: number;
  /** How many defects to plant (0 = a clean part). */
  defects?: number;
  seed?: number;
  /** Uniform sensor noise amplitude in grey levels (clean parts must still pass with it). */
  noise?: number;
}

export interface SyntheticImage extends GrayImage {
  planted: PlantedDefect[];
}

/** The contrast a defect has against the reference: far enough from it to be a real flaw. */
function defectLevel(reference: number): number {
  return reference < 128 ? reference + 100 : reference - 100;
}

const MARGIN = 6;

export function syntheticImage(options: SyntheticOptions): SyntheticImage {
  const { width, height, defects = 0, seed = 1, noise = 6 } = options;
  const random = seededRng(seed);
  const pixels = renderGolden(width, height);
  const planted: PlantedDefect[] = [];
  const overlaps = (b: PlantedDefect) =>
    planted.some(
      (p) =>
        b.x - MARGIN < p.x + p.width &&
        p.x - MARGIN < b.x + b.width &&
        b.y - MARGIN < p.y + p.height &&
        p.y - MARGIN < b.y + b.height,
    );
  for (let attempt = 0; planted.length < defects && attempt < defects * 200; attempt++) {
    const kind: DefectKind = random() < 0.6 ? 'spot' : 'scratch';
    const size = 3 + Math.floor(random() * 6); // spot radius or scratch half-length driver
    const box: PlantedDefect =
      kind === 'spot'
        ? { kind, x: 0, y: 0, width: 2 * size + 1, height: 2 * size + 1 }
        : random() < 0.5
          ? { kind, x: 0, y: 0, width: 4 * size, height: 3 }
          : { kind, x: 0, y: 0, width: 3, height: 4 * size };
    if (box.width + 2 * MARGIN >= width || box.height + 2 * MARGIN >= height) continue;
    box.x = MARGIN + Math.floor(random() * (width - box.width - 2 * MARGIN));
    box.y = MARGIN + Math.floor(random() * (height - box.height - 2 * MARGIN));
    if (overlaps(box)) continue;
    planted.push(box);
    for (let y = box.y; y < box.y + box.height; y++) {
      for (let x = box.x; x < box.x + box.width; x++) {
        if (kind === 'spot') {
          const dx = x - (box.x + size);
          const dy = y - (box.y + size);
          if (dx * dx + dy * dy > size * size) continue;
        }
        const i = y * width + x;
        pixels[i] = defectLevel(pixels[i] as number);
      }
    }
  }
  if (planted.length < defects)
    throw new RangeError(`could not place ${defects} defects in ${width}x${height}`);
  if (noise > 0) {
    for (let i = 0; i < pixels.length; i++) {
      const v = (pixels[i] as number) + Math.round((random() * 2 - 1) * noise);
      pixels[i] = Math.max(0, Math.min(255, v));
    }
  }
  return { width, height, pixels, planted };
}

/** Encode grey pixels as an 8-bit greyscale PNG. */
export function encodeGrayPng(image: GrayImage): Buffer {
  const png = new PNG({
    width: image.width,
    height: image.height,
    colorType: 0,
    inputColorType: 0,
    bitDepth: 8,
  });
  png.data = Buffer.from(image.pixels.buffer, image.pixels.byteOffset, image.pixels.byteLength);
  return PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
}
