// Benchmark (a script, not a test): the inspect service's PNG decoder (libvips through sharp, one libvips
// thread) against the pure-JS pngjs decoder it replaced, on the same images in the same run. For every image
// and decoder a fresh process decodes the image `--repeat` times; the parent alternates the decoders' order
// every round. Prints, per image, each decoder's median megapixels per second over the rounds and the peak
// memory of its decodes (the process's resident high-water mark before and after), and the ratio
// sharp/pngjs (median of per-round ratios). Both decode to the same grey levels (checked on every image;
// 16-bit samples may differ by one level).
//   node bench/inspect-decode.ts [--rounds 5] [--repeat 5]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { decodePng } from '../services/workloads/inspect/decode.ts';
import { encodeGrayPng, syntheticImage } from '../services/workloads/inspect/synthetic.ts';

const run = promisify(execFile);
const DECODERS = ['pngjs', 'sharp'] as const;
type Decoder = (typeof DECODERS)[number];

/** The service's decoder before sharp: pngjs to RGBA, then BT.601 luma with the same integer weights. */
function decodeWithPngjs(body: Buffer): { width: number; height: number; pixels: Uint8Array } {
  const png = PNG.sync.read(body);
  const n = png.width * png.height;
  const pixels = new Uint8Array(n);
  const rgba = png.data;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    pixels[i] =
      ((rgba[j] as number) * 77 + (rgba[j + 1] as number) * 150 + (rgba[j + 2] as number) * 29) >> 8;
  }
  return { width: png.width, height: png.height, pixels };
}

const decoders: Record<Decoder, (body: Buffer) => Promise<{ pixels: Uint8Array }>> = {
  pngjs: async (body) => decodeWithPngjs(body),
  sharp: (body) => decodePng(body, 100_000_000),
};

interface ChildResult {
  /** Milliseconds per decode, one per repeat (the first included: a service decodes each body once). */
  ms: number[];
  /** Resident high-water mark growth over the decodes, KiB. */
  peakKiB: number;
}

// --- child: decode one file `repeat` times -----------------------------------------------------------------------
if (process.argv[2] === '--child') {
  const [, , , decoder, file, repeat] = process.argv as [string, string, string, Decoder, string, string];
  const body = readFileSync(file);
  // Load the decoder's code paths on a tiny image, so the first decode measures decoding, not loading.
  await decoders[decoder](encodeGrayPng(syntheticImage({ width: 16, height: 16 })));
  const before = process.resourceUsage().maxRSS;
  const ms: number[] = [];
  for (let i = 0; i < Number(repeat); i++) {
    const t = performance.now();
    await decoders[decoder](body);
    ms.push(performance.now() - t);
  }
  const peakKiB = process.resourceUsage().maxRSS - before;
  process.stdout.write(JSON.stringify({ ms, peakKiB } satisfies ChildResult));
  process.exit(0);
}

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '5' }, repeat: { type: 'string', default: '5' } },
});
const rounds = Number(values.rounds);
const repeat = Number(values.repeat);

interface BenchImage {
  name: string;
  width: number;
  height: number;
  body: Buffer;
}

/** A colour or 16-bit version of a synthetic part (sharp encodes it; both decoders read the same file). */
async function variant(
  gray: Uint8Array,
  width: number,
  height: number,
  kind: 'rgb8' | 'rgba16',
): Promise<Buffer> {
  const channels = kind === 'rgb8' ? 3 : 4;
  const raw = Buffer.alloc(width * height * channels, 255);
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) raw[i * channels + c] = gray[i] as number;
  }
  const image = sharp(raw, { raw: { width, height, channels } });
  return (kind === 'rgba16' ? image.toColourspace('rgb16') : image).png().toBuffer();
}

async function images(): Promise<BenchImage[]> {
  const out: BenchImage[] = [];
  for (const [width, height] of [
    [640, 480],
    [2048, 1536],
    [4096, 2048],
  ] as const) {
    const part = syntheticImage({ width, height, defects: 5, seed: 1 });
    out.push({ name: `grey 8-bit ${width}x${height}`, width, height, body: encodeGrayPng(part) });
    if (width === 2048) {
      out.push({
        name: `RGB 8-bit ${width}x${height}`,
        width,
        height,
        body: await variant(part.pixels, width, height, 'rgb8'),
      });
      out.push({
        name: `RGBA 16-bit ${width}x${height}`,
        width,
        height,
        body: await variant(part.pixels, width, height, 'rgba16'),
      });
    }
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

async function child(decoder: Decoder, file: string): Promise<ChildResult> {
  const { stdout } = await run(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', decoder, file, String(repeat)],
    { maxBuffer: 1024 * 1024, timeout: 600_000 },
  );
  return JSON.parse(stdout) as ChildResult;
}

const dir = mkdtempSync(join(tmpdir(), 'mec-bench-decode-'));
try {
  const list = await images();
  process.stdout.write(
    `PNG decode, pngjs vs sharp (libvips ${sharp.versions.vips}, one thread), ${rounds} rounds x ${repeat} decodes, ` +
      `${cpus().length} CPUs, load ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n\n`,
  );
  process.stdout.write(
    `${'image'.padEnd(26)}${'bytes'.padStart(10)}  ${'pngjs MP/s'.padStart(10)}  ${'sharp MP/s'.padStart(10)}  ${'ratio'.padStart(6)}  ${'pngjs peak'.padStart(11)}  ${'sharp peak'.padStart(11)}\n`,
  );
  for (const image of list) {
    const file = join(dir, 'image.png');
    writeFileSync(file, image.body);
    // The same grey levels from both, or the comparison is of different work. 16-bit samples are reduced to
    // 8 bits by rounding in pngjs and by dropping the low byte in libvips: one level apart at most.
    const [a, b] = await Promise.all([decoders.pngjs(image.body), decoders.sharp(image.body)]);
    const tolerance = image.name.includes('16-bit') ? 1 : 0;
    for (let i = 0; i < a.pixels.length; i++) {
      if (Math.abs((a.pixels[i] as number) - (b.pixels[i] as number)) > tolerance) {
        throw new Error(`${image.name}: the decoders disagree at pixel ${i} by more than ${tolerance}`);
      }
    }
    const mp = (image.width * image.height) / 1e6;
    const rate: Record<Decoder, number[]> = { pngjs: [], sharp: [] };
    const peak: Record<Decoder, number[]> = { pngjs: [], sharp: [] };
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? DECODERS : [...DECODERS].reverse();
      const got: Partial<Record<Decoder, number>> = {};
      for (const decoder of order) {
        const result = await child(decoder, file);
        const mps = mp / (median(result.ms) / 1000);
        rate[decoder].push(mps);
        peak[decoder].push(result.peakKiB / 1024);
        got[decoder] = mps;
      }
      ratios.push((got.sharp as number) / (got.pngjs as number));
    }
    process.stdout.write(
      `${image.name.padEnd(26)}${String(image.body.length).padStart(10)}  ${median(rate.pngjs).toFixed(1).padStart(10)}  ` +
        `${median(rate.sharp).toFixed(1).padStart(10)}  ${median(ratios).toFixed(1).padStart(5)}x  ` +
        `${`${median(peak.pngjs).toFixed(0)} MiB`.padStart(11)}  ${`${median(peak.sharp).toFixed(0)} MiB`.padStart(11)}\n`,
    );
  }
  process.stdout.write(
    `\nMP/s: megapixels per second, median over rounds of each process's median decode. Peak: growth of the\n` +
      `resident high-water mark over ${repeat} decodes of the image. Ratio: sharp/pngjs, median of per-round ratios.\n`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
