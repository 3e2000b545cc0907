// The one staleness check: every generated file is what its generator writes now.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { generatedFiles, ROOT, replaceBlock, strayFiles } from './files.ts';

describe('generated files', () => {
  for (const file of generatedFiles()) {
    it(`${file.path} is up to date (else: make generate)`, () => {
      const current = readFileSync(`${ROOT}${file.path}`, 'utf8');
      assert.ok(
        current === file.render(current),
        `${file.path} is stale: run \`make generate\` and commit it`,
      );
    });
  }
  it('no file in a generated folder is left over', () => {
    assert.deepEqual(strayFiles(), []);
  });
  it('a README block is replaced between its markers only', () => {
    const text = 'a\n<!-- t:begin -->\nold\n<!-- t:end -->\nb\n';
    assert.equal(replaceBlock(text, 't', 'new'), 'a\n<!-- t:begin -->\nnew\n<!-- t:end -->\nb\n');
    assert.throws(() => replaceBlock('a', 't', 'new'), /<!-- t:begin --> … <!-- t:end --> block is missing/);
  });
});
