import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodePng, decodeRaw } from './decode.ts';
import { detectDefects } from './detect.ts';
import { goldenReference } from './golden.ts';

const cli = fileURLToPath(new URL('generate.ts', import.meta.url));

describe('generate.ts (test image CLI)', () => {
  it('writes a PNG with defects and a raw clean image, and prints the ground truth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mec-test-generate-'));
    try {
      const png = join(dir, 'part.png');
      const out = JSON.parse(
        execFileSync(
          process.execPath,
          [cli, '--width', '200', '--height', '150', '--defects', '4', '--out', png],
          {
            encoding: 'utf8',
          },
        ),
      ) as { planted: unknown[]; contentType: string };
      assert.equal(out.planted.length, 4);
      assert.equal(out.contentType, 'image/png');
      const image = await decodePng(readFileSync(png), 1e6);
      assert.equal(detectDefects(image, goldenReference(200, 150)).defectCount, 4);

      const raw = join(dir, 'clean.gray');
      execFileSync(process.execPath, [
        cli,
        '--width',
        '64',
        '--height',
        '32',
        '--format',
        'raw',
        '--out',
        raw,
      ]);
      const clean = decodeRaw(readFileSync(raw), 64, 32, 1e6);
      assert.equal(detectDefects(clean, goldenReference(64, 32)).verdict, 'pass');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses bad arguments with a usage line and exit 2', () => {
    const result = spawnSync(process.execPath, [cli, '--width', 'wide', '--out', '/dev/null'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--width must be a whole number from 16 to 8192/);
    assert.match(result.stderr, /usage: node services\/workloads\/inspect\/generate.ts/);
    assert.equal(spawnSync(process.execPath, [cli], { encoding: 'utf8' }).status, 2);
  });
});
