// Defect detection as a factory line does it, in its simplest honest form: compare with the golden reference,
// smooth the difference (sensor noise), threshold, group the remaining pixels into connected components, keep
// components of at least `minArea` pixels, and report their bounding boxes. Every step is linear in the
// number of pixels, so the CPU cost grows with the image and a CPU-limited edge can lose to the cloud.

export interface GrayImage {
  readonly width: number;
  readonly height: number;
  /** 8-bit grey levels, row-major, width * height bytes. */
  readonly pixels: Uint8Array;
}

export interface DetectOptions {
  /** Smoothed absolute difference (0-255) at or above which a pixel counts as defective. */
  threshold: number;
  /** Smallest component, in pixels, reported as a defect (smaller ones are noise). */
  minArea: number;
  /** Longest list of defects returned (the count is always exact). */
  maxDefects: number;
}

export const DEFAULT_DETECT_OPTIONS: DetectOptions = { threshold: 40, minArea: 9, maxDefects: 100 };

export interface Defect {
  x: number;
  y: number;
  width: number;
  height: number;
  /** Pixels in the component. */
  area: number;
  /** Mean smoothed difference from the reference over the component, 0-255. */
  meanDifference: number;
}

export interface Inspection {
  verdict: 'pass' | 'fail';
  width: number;
  height: number;
  defectCount: number;
  defects: Defect[];
}

/** Pure: inspect `image` against `reference` (same size). */
export function detectDefects(
  image: GrayImage,
  reference: Uint8Array,
  options: DetectOptions = DEFAULT_DETECT_OPTIONS,
): Inspection {
  const { width, height, pixels } = image;
  const n = width * height;
  if (pixels.length !== n || reference.length !== n) {
    throw new RangeError(`image is ${pixels.length} bytes and reference ${reference.length}, expected ${n}`);
  }
  // 1. absolute difference
  const diff = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const d = (pixels[i] as number) - (reference[i] as number);
    diff[i] = d < 0 ? -d : d;
  }
  // 2. 3x3 box filter, separable (horizontal sums, then vertical), edges replicated
  const horizontal = new Uint16Array(n);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const left = x > 0 ? x - 1 : x;
      const right = x < width - 1 ? x + 1 : x;
      horizontal[row + x] =
        (diff[row + left] as number) + (diff[row + x] as number) + (diff[row + right] as number);
    }
  }
  // 3. threshold on the smoothed value; keep the smoothed difference for the report
  const smoothed = diff; // reuse: the raw difference is no longer needed
  const mask = new Uint8Array(n);
  const limit = options.threshold * 9;
  for (let y = 0; y < height; y++) {
    const up = (y > 0 ? y - 1 : y) * width;
    const row = y * width;
    const down = (y < height - 1 ? y + 1 : y) * width;
    for (let x = 0; x < width; x++) {
      const sum =
        (horizontal[up + x] as number) + (horizontal[row + x] as number) + (horizontal[down + x] as number);
      smoothed[row + x] = Math.round(sum / 9);
      if (sum >= limit) mask[row + x] = 1;
    }
  }
  // 4. connected components (8-connectivity), iterative flood fill with a growable stack
  const defects: Defect[] = [];
  let stack = new Int32Array(1024);
  for (let start = 0; start < n; start++) {
    if (mask[start] !== 1) continue;
    mask[start] = 2;
    let top = 0;
    stack[top++] = start;
    let minX = width;
    let minY = height;
    let maxX = -1;
    let maxY = -1;
    let area = 0;
    let sum = 0;
    while (top > 0) {
      const p = stack[--top] as number;
      const py = (p / width) | 0;
      const px = p - py * width;
      area++;
      sum += smoothed[p] as number;
      if (px < minX) minX = px;
      if (px > maxX) maxX = px;
      if (py < minY) minY = py;
      if (py > maxY) maxY = py;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = py + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = px + dx;
          if (nx < 0 || nx >= width) continue;
          const q = ny * width + nx;
          if (mask[q] !== 1) continue;
          mask[q] = 2;
          if (top === stack.length) {
            const grown = new Int32Array(stack.length * 2);
            grown.set(stack);
            stack = grown;
          }
          stack[top++] = q;
        }
      }
    }
    if (area >= options.minArea) {
      defects.push({
        x: minX,
        y: minY,
        width: maxX - minX + 1,
        height: maxY - minY + 1,
        area,
        meanDifference: Math.round((sum / area) * 10) / 10,
      });
    }
  }
  // 5. verdict: the largest defects first, the list bounded so a noisy image cannot make a huge response
  defects.sort((a, b) => b.area - a.area || a.y - b.y || a.x - b.x);
  return {
    verdict: defects.length > 0 ? 'fail' : 'pass',
    width,
    height,
    defectCount: defects.length,
    defects: defects.slice(0, options.maxDefects),
  };
}
