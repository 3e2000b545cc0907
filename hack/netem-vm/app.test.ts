import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { commandWorks, need } from '../../test/support/requirements.ts';
import { closureFiles, newcArchive, packageName, runtimeClosure, runtimeSpecifiers } from './app.ts';
import { repoRoot } from './vm.ts';

describe('the application the VM runs', () => {
  it('follows run-time imports only', () => {
    const source = [
      "import type { A } from './types.ts';",
      "import { type B, c } from './c.ts';",
      "import * as d from '@scope/pkg/sub';",
      "export { e } from './e.ts';",
      "export type { F } from './f.ts';",
      "import './side-effect.ts';",
      "const g = await import('node:fs');",
    ].join('\n');
    assert.deepEqual(runtimeSpecifiers(source).sort(), [
      './c.ts',
      './e.ts',
      './side-effect.ts',
      '@scope/pkg/sub',
      'node:fs',
    ]);
    assert.equal(packageName('@scope/pkg/sub'), '@scope/pkg');
    assert.equal(packageName('yaml/util'), 'yaml');
    assert.equal(packageName('node:fs'), undefined);
    assert.equal(packageName('../x.ts'), undefined);
  });

  it("the link agent's closure: its sources and the packages they need, no tests", () => {
    const closure = runtimeClosure(repoRoot, ['services/link-agent/main.ts']);
    assert.ok(closure.sources.has('services/link-agent/plan.ts'));
    assert.ok(closure.sources.has('services/link-agent/package.json'));
    assert.ok([...closure.sources].some((s) => s.startsWith('services/topology/')));
    assert.ok([...closure.packages].some((p) => p.endsWith('node_modules/@kubernetes/client-node')));
    const files = closureFiles(repoRoot, closure);
    assert.ok(!files.some((f) => f.endsWith('.test.ts')));
    assert.ok(!files.some((f) => f.includes('node_modules') && f.endsWith('.d.ts')));
  });

  it('writes cpio newc archives the kernel can unpack (parents first, 4-byte aligned, trailer)', () => {
    const a = newcArchive([{ path: 'a/b.txt', mode: 0o100644, data: Buffer.from('hello') }]);
    const text = a.toString('latin1');
    assert.ok(text.startsWith('070701'));
    assert.ok(text.indexOf('a\0') < text.indexOf('a/b.txt\0'));
    assert.ok(text.includes('TRAILER!!!'));
    assert.equal(a.length % 4, 0);
  });

  it('the VM scripts pass shellcheck', (t) => {
    if (!need(t, commandWorks('shellcheck', ['--version'], 'shellcheck (apt-get install shellcheck)')))
      return;
    const r = spawnSync('shellcheck', ['hack/netem-vm/build.sh', 'hack/netem-vm/guest/init'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stdout);
  });
});
