// The Makefile's testbed targets (dry run), the kind/kubectl installer and the testbed scripts, with fake
// `uname`, `curl`, `kind` and `docker` on PATH where a real one would download or create a cluster.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { versions } from '../../test/support/kube.ts';
import { commandWorks, need } from '../../test/support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const shellcheck = commandWorks('shellcheck', ['--version'], 'shellcheck (apt-get install shellcheck)');
const make = commandWorks('make', ['--version'], 'GNU make');

function dryRun(...args: string[]): string[] {
  const out = execFileSync('make', ['-n', '--no-print-directory', ...args], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

const fakes = mkdtempSync(join(tmpdir(), 'mec-test-fakes-'));
after(() => rmSync(fakes, { recursive: true, force: true }));
/** A directory of fake commands (shell scripts) to put first on PATH; each logs its argv to calls.log. */
function fakeBin(name: string, commands: Record<string, string>): { dir: string; calls: () => string[] } {
  const dir = join(fakes, name);
  execFileSync('mkdir', ['-p', dir]);
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const [cmd, body] of Object.entries(commands)) {
    writeFileSync(join(dir, cmd), `#!/usr/bin/env bash\necho "${cmd} $*" >> "${log}"\n${body}\n`);
    chmodSync(join(dir, cmd), 0o755);
  }
  return { dir, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

describe('make -n: the testbed targets', () => {
  it('up: checks the backend, creates the pinned cluster, builds and loads images, applies, switches the profile, waits, prints URLs', (t) => {
    if (!need(t, make)) return;
    const lines = dryRun('up');
    const index = (re: RegExp) => {
      const i = lines.findIndex((l) => re.test(l));
      assert.ok(i >= 0, `expected a line matching ${re} in:\n${lines.join('\n')}`);
      return i;
    };
    const steps = [
      index(/^hack\/tools\/install\.sh kind$/),
      index(/^hack\/tools\/install\.sh kubectl$/),
      index(/^hack\/testbed\/check-emulation\.sh netem$/),
      index(
        new RegExp(
          `^hack/testbed/cluster\\.sh bin/kind-${versions.KIND_VERSION} mec-testbed k8s/kind/cluster\\.yaml ${versions.KIND_NODE_IMAGE?.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
        ),
      ),
      index(/^hack\/images\/build\.sh$/),
      index(/^services\/link-agent\/image\/build\.sh$/),
      index(
        /load-images\.sh .* mec-testbed\/edge:dev mec-testbed\/cloud:dev mec-testbed\/link-agent:dev\s*$/,
      ),
      index(
        /kustomize --load-restrictor LoadRestrictionsNone k8s\/overlays\/kind \| bin\/kubectl-\S+ --context kind-mec-testbed apply --server-side --field-manager=mec-testbed --force-conflicts -f -/,
      ),
      index(/services\/cli\/main\.ts --context kind-mec-testbed ensure-secrets$/),
      index(/services\/cli\/main\.ts --context kind-mec-testbed profile 5g-mec$/),
      index(/services\/cli\/main\.ts --context kind-mec-testbed wait --timeout 300$/),
      index(/services\/cli\/main\.ts --context kind-mec-testbed netem$/),
      index(/services\/cli\/main\.ts --context kind-mec-testbed urls$/),
    ];
    assert.deepEqual(
      steps,
      [...steps].sort((a, b) => a - b),
      'steps run in this order',
    );
    assert.match(versions.KIND_NODE_IMAGE ?? '', /@sha256:[0-9a-f]{64}$/);
  });

  it('up EMULATION=proxy PROFILE=far-cloud: the proxy overlay and image, no netem check, the chosen profile', (t) => {
    if (!need(t, make)) return;
    const text = dryRun('up', 'EMULATION=proxy', 'PROFILE=far-cloud').join('\n');
    assert.match(text, /check-emulation\.sh proxy/);
    assert.match(text, /k8s\/overlays\/kind-proxy \|/);
    assert.match(text, /mec-testbed\/link-proxy:dev/);
    assert.match(text, /profile far-cloud/);
    assert.doesNotMatch(text, /main\.ts --context \S+ netem/);
  });

  it('up EMULATION=other refuses before doing anything', (t) => {
    if (!need(t, make)) return;
    const r = spawnSync(
      'make',
      ['--no-print-directory', '-o', 'tools', '-o', 'node_modules', 'up', 'EMULATION=other'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(r.status, 2);
    assert.match(r.stdout + r.stderr, /EMULATION must be netem or proxy, got 'other'/);
  });

  it('without Node 24 the CLI runs in the link-agent image, and npm is not needed', (t) => {
    if (!need(t, make)) return;
    const lines = dryRun('up', 'CLI_RUNTIME=docker');
    assert.ok(!lines.some((l) => /^npm /.test(l)), 'no npm ci');
    const cli = lines.filter((l) => l.includes('services/cli') || l.includes('cli-in-docker'));
    assert.ok(cli.length >= 5);
    for (const l of cli)
      assert.match(
        l,
        /^hack\/testbed\/cli-in-docker\.sh bin\/kind-\S+ mec-testbed mec-testbed\/link-agent:dev --context kind-mec-testbed /,
      );
  });

  it('down, status, profile, logs', (t) => {
    if (!need(t, make)) return;
    assert.ok(dryRun('down').includes(`bin/kind-${versions.KIND_VERSION} delete cluster --name mec-testbed`));
    assert.ok(
      dryRun('status').some((l) => l.endsWith('services/cli/main.ts --context kind-mec-testbed status')),
    );
    assert.ok(dryRun('profile', 'PROFILE=k8s/my.yaml').some((l) => l.endsWith('profile k8s/my.yaml')));
    const logs = dryRun('logs', 'APP=link-agent').at(-1) ?? '';
    assert.match(logs, /logs -n mec-testbed-system -l app\.kubernetes\.io\/name=link-agent .* -f$/);
    assert.ok(dryRun('up', 'KUBE_CONTEXT=my-cluster').some((l) => l.includes('--context my-cluster')));
  });

  it('make help lists every testbed target', (t) => {
    if (!need(t, make)) return;
    const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'); // make help colours its output
    const help = execFileSync('make', ['help'], { cwd: ROOT, encoding: 'utf8' }).replace(ansi, '');
    const section = help.slice(help.indexOf('Testbed'));
    for (const target of ['tools', 'up', 'down', 'status', 'profile', 'logs'])
      assert.match(section, new RegExp(`\\n  ${target}\\s`));
  });
});

describe('hack/tools/install.sh', () => {
  const sums = readFileSync(join(ROOT, 'hack/tools/sha256sums.txt'), 'utf8');
  const platforms = [
    ['Linux', 'x86_64', 'linux', 'amd64'],
    ['Linux', 'aarch64', 'linux', 'arm64'],
    ['Darwin', 'x86_64', 'darwin', 'amd64'],
    ['Darwin', 'arm64', 'darwin', 'arm64'],
  ] as const;

  it('has a committed sha256 for both tools on every supported platform at the pinned versions', () => {
    for (const [, , os, arch] of platforms) {
      for (const [tool, version] of [
        ['kind', versions.KIND_VERSION],
        ['kubectl', versions.KUBECTL_VERSION],
      ]) {
        assert.match(
          sums,
          new RegExp(`^[0-9a-f]{64}  ${tool}-${version}-${os}-${arch}$`, 'm'),
          `${tool} ${os}/${arch}`,
        );
      }
    }
  });

  for (const [uname, machine, os, arch] of platforms) {
    it(`picks the ${os}/${arch} assets on ${uname} ${machine}`, () => {
      const fake = fakeBin(`uname-${os}-${arch}`, {
        uname: `case "$1" in -s) echo ${uname} ;; -m) echo ${machine} ;; esac`,
      });
      const env = { ...process.env, PATH: `${fake.dir}:${process.env.PATH}`, MEC_TOOLS_DRY_RUN: '1' };
      const kind = execFileSync(join(ROOT, 'hack/tools/install.sh'), ['kind'], { env, encoding: 'utf8' });
      assert.match(kind, new RegExp(`releases/download/${versions.KIND_VERSION}/kind-${os}-${arch} `));
      const kubectl = execFileSync(join(ROOT, 'hack/tools/install.sh'), ['kubectl'], {
        env,
        encoding: 'utf8',
      });
      assert.match(
        kubectl,
        new RegExp(`dl\\.k8s\\.io/release/${versions.KUBECTL_VERSION}/bin/${os}/${arch}/kubectl `),
      );
      const want = new RegExp(
        `^([0-9a-f]{64})  kubectl-${versions.KUBECTL_VERSION}-${os}-${arch}$`,
        'm',
      ).exec(sums)?.[1];
      assert.ok(want && kubectl.includes(want));
    });
  }

  it('refuses a download whose sha256 does not match, and installs nothing', () => {
    const fake = fakeBin('curl-corrupt', {
      curl: 'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then echo "not the real kind" > "$2"; fi; shift; done',
    });
    const kindPath = join(ROOT, 'bin', `kind-${versions.KIND_VERSION}`);
    let before: string | undefined;
    try {
      before = readFileSync(kindPath, 'utf8');
    } catch {}
    const r = spawnSync(join(ROOT, 'hack/tools/install.sh'), ['kind'], {
      env: { ...process.env, PATH: `${fake.dir}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /sha256 mismatch for https:\/\/github\.com\/kubernetes-sigs\/kind\/releases\/download\/.*nothing installed/,
    );
    let after: string | undefined;
    try {
      after = readFileSync(kindPath, 'utf8');
    } catch {}
    assert.equal(after, before, 'bin/ unchanged');
  });

  it('refuses an unknown tool or a platform it does not support', () => {
    assert.equal(spawnSync(join(ROOT, 'hack/tools/install.sh'), ['helm']).status, 2);
    const fake = fakeBin('uname-windows', { uname: 'echo MINGW64_NT' });
    const r = spawnSync(join(ROOT, 'hack/tools/install.sh'), ['kind'], {
      env: { ...process.env, PATH: `${fake.dir}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unsupported OS MINGW64_NT/);
  });
});

describe('hack/testbed scripts', () => {
  it('pass shellcheck', (t) => {
    if (!need(t, shellcheck)) return;
    const scripts = [
      'hack/testbed/cluster.sh',
      'hack/testbed/check-emulation.sh',
      'hack/testbed/load-images.sh',
      'hack/testbed/cli-in-docker.sh',
      'hack/tools/install.sh',
    ];
    const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...scripts], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });

  it('cluster.sh creates the cluster with the pinned image only when it does not exist', () => {
    const absent = fakeBin('kind-absent', { docker: 'exit 0', kind: 'exit 0' });
    execFileSync(
      join(ROOT, 'hack/testbed/cluster.sh'),
      ['kind', 'mec-testbed', 'k8s/kind/cluster.yaml', 'img@sha256:x'],
      {
        env: { ...process.env, PATH: `${absent.dir}:${process.env.PATH}` },
      },
    );
    assert.ok(
      absent
        .calls()
        .includes(
          'kind create cluster --name mec-testbed --config k8s/kind/cluster.yaml --image img@sha256:x --wait 180s',
        ),
    );

    const present = fakeBin('kind-present', {
      docker: '[ "$1" = ps ] && echo mec-testbed-control-plane; exit 0',
      kind: '[ "$1" = get ] && echo mec-testbed; exit 0',
    });
    const out = execFileSync(
      join(ROOT, 'hack/testbed/cluster.sh'),
      ['kind', 'mec-testbed', 'k8s/kind/cluster.yaml', 'img'],
      {
        env: { ...process.env, PATH: `${present.dir}:${process.env.PATH}` },
        encoding: 'utf8',
      },
    );
    assert.match(out, /exists: updating it/);
    assert.ok(!present.calls().some((c) => c.startsWith('kind create')));

    const stopped = fakeBin('kind-stopped', {
      docker: 'exit 0',
      kind: '[ "$1" = get ] && echo mec-testbed; exit 0',
    });
    const r = spawnSync(join(ROOT, 'hack/testbed/cluster.sh'), ['kind', 'mec-testbed', 'x', 'img'], {
      env: { ...process.env, PATH: `${stopped.dir}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nodes are stopped/);

    const noDocker = fakeBin('no-docker', { docker: 'exit 1', kind: 'exit 0' });
    const d = spawnSync(join(ROOT, 'hack/testbed/cluster.sh'), ['kind', 'mec-testbed', 'x', 'img'], {
      env: { ...process.env, PATH: `${noDocker.dir}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    assert.equal(d.status, 1);
    assert.match(d.stderr, /Docker is not running/);
  });

  it('check-emulation.sh: proxy always works; netem either works or says how to get it', () => {
    assert.equal(spawnSync(join(ROOT, 'hack/testbed/check-emulation.sh'), ['proxy']).status, 0);
    assert.equal(spawnSync(join(ROOT, 'hack/testbed/check-emulation.sh'), ['tc']).status, 2);
    const r = spawnSync(join(ROOT, 'hack/testbed/check-emulation.sh'), ['netem'], { encoding: 'utf8' });
    if (r.status === 0) assert.match(r.stdout, /emulation: tc netem/);
    else {
      // This machine's kernel has no sch_netem (see /work/shared/README.md): the message must say what to do.
      assert.equal(r.status, 3);
      assert.match(r.stderr, /sudo modprobe sch_netem/);
      assert.match(r.stderr, /make up EMULATION=proxy/);
    }
  });

  it('load-images.sh loads the images that exist and reports the others', () => {
    const fake = fakeBin('docker-some', { docker: '[ "$3" = mec-testbed/edge:dev ]', kind: 'exit 0' });
    const r = spawnSync(
      join(ROOT, 'hack/testbed/load-images.sh'),
      ['kind', 'mec-testbed', 'mec-testbed/edge:dev', 'mec-testbed/cloud:dev'],
      {
        env: { ...process.env, PATH: `${fake.dir}:${process.env.PATH}` },
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /image mec-testbed\/cloud:dev is not built/);
    assert.ok(fake.calls().includes('kind load docker-image --name mec-testbed mec-testbed/edge:dev'));
  });
});
