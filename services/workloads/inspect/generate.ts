// CLI: write test images for the inspect workload, with or without defects, and print the ground truth.
//   node services/workloads/inspect/generate.ts --width 640 --height 480 --defects 3 --seed 7 --out part.png
//   node services/workloads/inspect/generate.ts --defects 0 --format raw --out clean.gray
// Then: curl -H 'content-type: image/png' --data-binary @part.png http://127.0.0.1:8081/api/v1/inspect
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { encodeGrayPng, syntheticImage } from './synthetic.ts';

const USAGE =
  'usage: node services/workloads/inspect/generate.ts [--width 640] [--height 480] [--defects 0] [--seed 1] ' +
  '[--noise 6] [--format png|raw] --out FILE';

function whole(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    process.stderr.write(
      `--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}\n${USAGE}\n`,
    );
    process.exit(2);
  }
  return Number(raw);
}

const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '640' },
    height: { type: 'string', default: '480' },
    defects: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    noise: { type: 'string', default: '6' },
    format: { type: 'string', default: 'png' },
    out: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help || !values.out || (values.format !== 'png' && values.format !== 'raw')) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(values.help ? 0 : 2);
}
const image = syntheticImage({
  width: whole('width', values.width, 16, 8192),
  height: whole('height', values.height, 16, 8192),
  defects: whole('defects', values.defects, 0, 1000),
  seed: whole('seed', values.seed, 0, 2 ** 31),
  noise: whole('noise', values.noise, 0, 30),
});
const bytes = values.format === 'png' ? encodeGrayPng(image) : Buffer.from(image.pixels);
writeFileSync(values.out, bytes);
process.stdout.write(
  `${JSON.stringify({
    file: values.out,
    format: values.format,
    contentType: values.format === 'png' ? 'image/png' : 'application/octet-stream',
    width: image.width,
    height: image.height,
    bytes: bytes.length,
    planted: image.planted,
  })}\n`,
);
