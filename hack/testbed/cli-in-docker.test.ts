// hack/testbed/cli-in-docker.sh (the CLI where the host has no Node 24) against stand-ins for docker and kind that
// record what they are asked: a profile file outside the checkout reaches the container, every bind mount carries
// `z` for SELinux hosts, and the admin kubeconfig it writes is readable by its owner alone.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const script = join(root, 'hack/testbed/cli-in-docker.sh');

describe('the CLI in Docker', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mec-test-cli-docker-'));
    mkdirSync(join(dir, 'bin'));
    const stub = (name: string, body: string) => {
      writeFileSync(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, 'bin', name), 0o755);
    };
    // docker: the image exists; `run` records its arguments one per line.
    stub('docker', `[ "$1" = run ] && printf '%s\\n' "$@" >"$RECORD"; exit 0`);
    stub(
      'kind',
      'case "$*" in "get clusters") echo mec-testbed ;; "get kubeconfig"*) echo "apiVersion: v1 # admin credentials" ;; esac',
    );
    writeFileSync(join(dir, 'lab.yaml'), 'name: lab\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function run(args: string[]) {
    const record = join(dir, `record-${Math.random().toString(36).slice(2)}`);
    const r = spawnSync(
      script,
      [join(dir, 'bin/kind'), 'mec-testbed', 'mec-testbed/link-agent:dev', ...args],
      {
        cwd: root,
        encoding: 'utf8',
        env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, HOME: dir, RECORD: record },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(record, 'utf8').trimEnd().split('\n');
  }

  it('mounts a profile file outside the checkout and names it as the container sees it', () => {
    const argv = run(['--context', 'kind-mec-testbed', 'profile', join(dir, 'lab.yaml')]);
    assert.ok(argv.includes(`${join(dir, 'lab.yaml')}:/mnt/args/1/lab.yaml:ro,z`), argv.join('\n'));
    assert.deepEqual(argv.slice(-2), ['profile', '/mnt/args/1/lab.yaml']);
  });

  it('names a file inside the checkout by its path from the root, with no extra mount', () => {
    const argv = run(['profile', 'k8s/base/link-profile/profile.yaml']);
    assert.equal(argv.at(-1), 'k8s/base/link-profile/profile.yaml');
    assert.ok(!argv.some((a) => a.includes('/mnt/args')));
    // A path that does not exist is passed on as is: the CLI says it is neither a preset nor a file.
    assert.equal(run(['profile', 'far-cloud']).at(-1), 'far-cloud');
  });

  it('labels every bind mount for SELinux and keeps the admin kubeconfig private', () => {
    const argv = run(['status']);
    const mounts = argv.filter((_, i) => argv[i - 1] === '-v');
    assert.ok(mounts.length >= 2, argv.join('\n'));
    for (const m of mounts) assert.match(m, /:ro,z$/, m);
    const kubeconfig = join(root, '.cache/cli/kubeconfig');
    assert.equal(statSync(kubeconfig).mode & 0o777, 0o600);
    assert.equal(statSync(join(root, '.cache/cli')).mode & 0o777, 0o700);
  });
});
