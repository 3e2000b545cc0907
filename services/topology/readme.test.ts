// The README shows the presets table so newcomers see the numbers; it is generated from the model, and this
// test keeps the copy honest (no link number may drift from services/topology/presets.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { presetsTable } from './presets-table.ts';

test("README's presets table is the one the model generates", () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const found = /<!-- presets:begin -->\n([\s\S]*?)<!-- presets:end -->/.exec(readme);
  assert.ok(found, 'README.md lacks the <!-- presets:begin --> … <!-- presets:end --> block');
  assert.equal(
    found[1]?.trim(),
    presetsTable().trim(),
    'README.md is stale: paste the output of `node services/topology/schema.ts --presets-table`',
  );
});
