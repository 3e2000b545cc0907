// The Makefile's testbed targets (dry run), the kind/kubectl installer and the testbed scripts, with stand-ins
// (`uname`, `curl`, `kind`, `docker`, `kubectl`, `make`, the CLI) first on PATH where a real one would download,
// create a cluster or deploy. The real run of the same scripts is `make kind-e2e` (hack/offline-ci/).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';
import { kubeBinDir, versions } from '../../test/support/kube.ts';
import { commandWorks, need, type Requirement } from '../../test/support/requirements.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const shellcheck = commandWorks('shellcheck', ['--version'], 'shellcheck (apt-get install shellcheck)');
const make = commandWorks('make', ['--version'], 'GNU make');
const KUBECTL = join(kubeBinDir(), 'kubectl');
const kubectl: Requirement = () =>
  existsSync(KUBECTL) ? undefined : `kubectl ${versions.KUBECTL_VERSION} (make kube-build)`;

function dryRun(...args: string[]): string[] {
  const out = execFileSync('make', ['-n', '--no-print-directory', ...args], { cwd: ROOT, encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

const fakes = mkdtempSync(join(tmpdir(), 'mec-test-fakes-'));
after(() => rmSync(fakes, { recursive: true, force: true }));
/** A directory of fake commands (shell scripts) to put first on PATH; each logs its argv to calls.log. */
function fakeBin(name: string, commands: Record<string, string>): { dir: string; calls: () => string[] } {
  const dir = join(fakes, name);
  mkdirSync(dir, { recursive: true });
  const log = join(dir, 'calls.log');
  writeFileSync(log, '');
  for (const [cmd, body] of Object.entries(commands)) {
    writeFileSync(join(dir, cmd), `#!/usr/bin/env bash\necho "${cmd} $*" >> "${log}"\n${body}\n`);
    chmodSync(join(dir, cmd), 0o755);
  }
  return { dir, calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}
const withPath = (dir: string, extra: NodeJS.ProcessEnv = {}) => ({
  ...process.env,
  PATH: `${dir}:${process.env.PATH}`,
  ...extra,
});
const script = (name: string) => join(ROOT, 'hack', name);

describe('make -n: the testbed targets', () => {
  it('up: hack/testbed/up.sh with the pinned tools, the defaults (auto, 3000, 9090, Grafana on) and the CLI', (t) => {
    if (!need(t, make)) return;
    const line = dryRun('up').find((l) => l.includes('hack/testbed/up.sh')) ?? '';
    // kind/kubectl: ./bin unless the pinned version is on PATH (hack/tools/find.sh).
    assert.match(line, new RegExp(`KIND="(bin/kind-${versions.KIND_VERSION}|/\\S+/kind)"`));
    assert.match(line, new RegExp(`KUBECTL="(bin/kubectl-${versions.KUBECTL_VERSION}|/\\S+/kubectl)"`));
    for (const v of [
      'KIND_CLUSTER="mec-testbed"',
      'KUBE_CONTEXT="kind-mec-testbed"',
      `KIND_NODE_IMAGE="${versions.KIND_NODE_IMAGE}"`,
      'EMULATION="auto"',
      'GRAFANA="on"',
      'GRAFANA_PORT="3000"',
      'PROMETHEUS_PORT="9090"',
      'PROFILE="5g-mec"',
      `PROMETHEUS_IMAGE="${versions.PROMETHEUS_IMAGE}"`,
    ])
      assert.ok(line.includes(v), `${v} in ${line}`);
    assert.match(
      line,
      /MEC_CLI="\S+ services\/cli\/main\.ts --context kind-mec-testbed"|MEC_CLI="hack\/testbed\/cli-in-docker\.sh /,
    );
  });

  it('up: a second testbed is variables only (KIND_CLUSTER, ports), and KIND=/KUBECTL= are used as given', (t) => {
    if (!need(t, make)) return;
    const line =
      dryRun(
        'up',
        'KIND_CLUSTER=two',
        'GRAFANA_PORT=3001',
        'PROMETHEUS_PORT=9091',
        'KIND=/opt/kind',
        'KUBECTL=/opt/kubectl',
      ).find((l) => l.includes('hack/testbed/up.sh')) ?? '';
    for (const v of [
      'KIND_CLUSTER="two"',
      'KUBE_CONTEXT="kind-two"',
      'GRAFANA_PORT="3001"',
      'PROMETHEUS_PORT="9091"',
      'KIND="/opt/kind"',
      'KUBECTL="/opt/kubectl"',
    ])
      assert.ok(line.includes(v), `${v} in ${line}`);
  });

  it('without Node 24 the CLI runs in the link-agent image, and npm is not needed', (t) => {
    if (!need(t, make)) return;
    const lines = dryRun('up', 'CLI_RUNTIME=docker');
    assert.ok(!lines.some((l) => /^npm /.test(l)), 'no npm ci');
    assert.match(
      lines.join('\n'),
      /MEC_CLI="hack\/testbed\/cli-in-docker\.sh \S*kind\S* mec-testbed mec-testbed\/link-agent:dev --context kind-mec-testbed"/,
    );
  });

  it('down, status, profile, logs, load: nothing is downloaded by the recipe itself', (t) => {
    if (!need(t, make)) return;
    assert.ok(dryRun('down').some((l) => l.includes('hack/testbed/down.sh')));
    assert.ok(
      dryRun('status').some((l) => l.endsWith('services/cli/main.ts --context kind-mec-testbed status')),
    );
    assert.ok(dryRun('profile', 'PROFILE=k8s/my.yaml').some((l) => l.endsWith('profile k8s/my.yaml')));
    const logs = dryRun('logs', 'APP=link-agent');
    assert.ok(logs.some((l) => l.includes('hack/testbed/need-cluster.sh')));
    assert.match(
      logs.at(-1) ?? '',
      /logs -n mec-testbed-system -l app\.kubernetes\.io\/name=link-agent .* -f$/,
    );
    assert.ok(dryRun('load').some((l) => l.includes('hack/testbed/need-cluster.sh')));
    for (const target of ['down', 'logs', 'load', 'status'])
      assert.ok(!dryRun(target).some((l) => l.includes('install.sh')), `${target} installs nothing`);
    assert.ok(dryRun('status', 'KUBE_CONTEXT=my-cluster').some((l) => l.includes('--context my-cluster')));
  });

  it('make help lists every testbed target', (t) => {
    if (!need(t, make)) return;
    const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g'); // make help colours its output
    const help = execFileSync('make', ['help'], { cwd: ROOT, encoding: 'utf8' }).replace(ansi, '');
    const section = help.slice(help.indexOf('Testbed'));
    for (const target of ['tools', 'up', 'down', 'status', 'profile', 'logs', 'kind-e2e'])
      assert.match(section, new RegExp(`\\n  ${target}\\s`));
  });
});

describe('hack/tools', () => {
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
    it(`install.sh picks the ${os}/${arch} assets on ${uname} ${machine}`, () => {
      const fake = fakeBin(`uname-${os}-${arch}`, {
        uname: `case "$1" in -s) echo ${uname} ;; -m) echo ${machine} ;; esac`,
      });
      const env = withPath(fake.dir, { MEC_TOOLS_DRY_RUN: '1' });
      const kind = execFileSync(script('tools/install.sh'), ['kind'], { env, encoding: 'utf8' });
      assert.match(kind, new RegExp(`releases/download/${versions.KIND_VERSION}/kind-${os}-${arch} `));
      const kubectlOut = execFileSync(script('tools/install.sh'), ['kubectl'], { env, encoding: 'utf8' });
      assert.match(
        kubectlOut,
        new RegExp(`dl\\.k8s\\.io/release/${versions.KUBECTL_VERSION}/bin/${os}/${arch}/kubectl `),
      );
      const want = new RegExp(
        `^([0-9a-f]{64})  kubectl-${versions.KUBECTL_VERSION}-${os}-${arch}$`,
        'm',
      ).exec(sums)?.[1];
      assert.ok(want && kubectlOut.includes(want));
    });
  }

  it('install.sh refuses a download whose sha256 does not match, and installs nothing', () => {
    const fake = fakeBin('curl-corrupt', {
      curl: 'while [ $# -gt 0 ]; do if [ "$1" = -o ]; then echo "not the real kind" > "$2"; fi; shift; done',
    });
    const kindPath = join(ROOT, 'bin', `kind-${versions.KIND_VERSION}`);
    const before = existsSync(kindPath) ? readFileSync(kindPath) : undefined;
    const r = spawnSync(script('tools/install.sh'), ['kind'], { env: withPath(fake.dir), encoding: 'utf8' });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /sha256 mismatch for https:\/\/github\.com\/kubernetes-sigs\/kind\/releases\/download\/.*nothing installed/,
    );
    assert.deepEqual(existsSync(kindPath) ? readFileSync(kindPath) : undefined, before, 'bin/ unchanged');
  });

  it('install.sh without a network says what failed and how to supply the tool, in one line', () => {
    const fake = fakeBin('curl-offline', {
      curl: 'echo "curl: (6) Could not resolve host: dl.k8s.io" >&2; exit 6',
    });
    const r = spawnSync(script('tools/install.sh'), ['kubectl'], {
      env: withPath(fake.dir),
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    // The progress line, then one error line: no raw curl output.
    assert.deepEqual(
      r.stderr
        .trim()
        .split('\n')
        .map((l) => l.split(' ')[0]),
      ['installing', 'install.sh:'],
      r.stderr,
    );
    assert.match(
      r.stderr,
      /could not download kubectl v\S+ from https:\/\/dl\.k8s\.io\/.*\(\(6\) Could not resolve host: dl\.k8s\.io\)/,
    );
    assert.match(r.stderr, /put kubectl v\S+ on PATH or pass KUBECTL=\/path\/to\/kubectl to make/);
  });

  it('install.sh refuses an unknown tool or a platform it does not support', () => {
    assert.equal(spawnSync(script('tools/install.sh'), ['helm']).status, 2);
    const fake = fakeBin('uname-windows', { uname: 'echo MINGW64_NT' });
    const r = spawnSync(script('tools/install.sh'), ['kind'], { env: withPath(fake.dir), encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unsupported OS MINGW64_NT/);
  });

  it('find.sh takes kind/kubectl from PATH only at the pinned version, else ./bin', () => {
    const pinned = fakeBin('tools-pinned', {
      kind: `echo "kind ${versions.KIND_VERSION} go1.26 linux/amd64"`,
      kubectl: `echo "Client Version: ${versions.KUBECTL_VERSION}"`,
    });
    for (const tool of ['kind', 'kubectl'])
      assert.equal(
        execFileSync(script('tools/find.sh'), [tool], { env: withPath(pinned.dir), encoding: 'utf8' }).trim(),
        join(pinned.dir, tool),
      );
    const other = fakeBin('tools-other', {
      kind: 'echo "kind v0.20.0 go1.20 linux/amd64"',
      kubectl: 'echo "Client Version: v1.30.0"',
    });
    assert.equal(
      execFileSync(script('tools/find.sh'), ['kind'], { env: withPath(other.dir), encoding: 'utf8' }).trim(),
      `bin/kind-${versions.KIND_VERSION}`,
    );
    assert.equal(
      execFileSync(script('tools/find.sh'), ['kubectl'], {
        env: withPath(other.dir),
        encoding: 'utf8',
      }).trim(),
      `bin/kubectl-${versions.KUBECTL_VERSION}`,
    );
  });
});

describe('hack/testbed scripts', () => {
  it('pass shellcheck', (t) => {
    if (!need(t, shellcheck)) return;
    const scripts = [
      'testbed/up.sh',
      'testbed/preflight.sh',
      'testbed/cluster.sh',
      'testbed/check-emulation.sh',
      'testbed/emulation.sh',
      'testbed/render.sh',
      'testbed/apply.sh',
      'testbed/load-images.sh',
      'testbed/down.sh',
      'testbed/need-cluster.sh',
      'testbed/cli-in-docker.sh',
      'tools/install.sh',
      'tools/find.sh',
    ].map((s) => `hack/${s}`);
    const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...scripts], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });

  it('cluster.sh creates the cluster with the pinned image and the chosen host ports, only when it does not exist', () => {
    const absent = fakeBin('kind-absent', {
      docker: 'exit 0',
      kind: `[ "$1" = create ] && cat > "${join(fakes, 'kind-absent', 'config.yaml')}"; exit 0`,
    });
    execFileSync(
      script('testbed/cluster.sh'),
      ['kind', 'mec-testbed', 'k8s/kind/cluster.yaml', 'img@sha256:x'],
      {
        cwd: ROOT,
        env: withPath(absent.dir, { GRAFANA_PORT: '3001', PROMETHEUS_PORT: '9091' }),
      },
    );
    assert.ok(
      absent
        .calls()
        .includes('kind create cluster --name mec-testbed --config - --image img@sha256:x --wait 180s'),
    );
    const config = readFileSync(join(fakes, 'kind-absent', 'config.yaml'), 'utf8');
    assert.match(config, /containerPort: 30300\n\s+hostPort: 3001\n/);
    assert.match(config, /containerPort: 30090\n\s+hostPort: 9091\n/);
    assert.ok(
      absent
        .calls()
        .some((c) =>
          /^docker exec mec-testbed-control-plane kubectl .* annotate --overwrite node mec-testbed-control-plane mec-testbed.dev\/host-ports=/.test(
            c,
          ),
        ),
    );

    const present = fakeBin('kind-present', {
      docker: '[ "$1" = ps ] && echo mec-testbed-control-plane; exit 0',
      kind: '[ "$1" = get ] && echo mec-testbed; exit 0',
    });
    const out = execFileSync(
      script('testbed/cluster.sh'),
      ['kind', 'mec-testbed', 'k8s/kind/cluster.yaml', 'img'],
      {
        cwd: ROOT,
        env: withPath(present.dir),
        encoding: 'utf8',
      },
    );
    assert.match(out, /exists: updating it/);
    assert.ok(!present.calls().some((c) => c.startsWith('kind create')));

    const stopped = fakeBin('kind-stopped', {
      docker: 'exit 0',
      kind: '[ "$1" = get ] && echo mec-testbed; exit 0',
    });
    const r = spawnSync(script('testbed/cluster.sh'), ['kind', 'mec-testbed', 'x', 'img'], {
      env: withPath(stopped.dir),
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /nodes are stopped/);
  });

  describe('check-emulation.sh (the host, before anything is created)', () => {
    const kernel = (name: string, files: Record<string, Buffer | string>) => {
      const dir = join(fakes, `kernel-${name}`);
      for (const [path, content] of Object.entries(files)) {
        mkdirSync(join(dir, path, '..'), { recursive: true });
        writeFileSync(join(dir, path), content);
      }
      mkdirSync(join(dir, 'proc'), { recursive: true });
      return dir;
    };
    const linux = fakeBin('uname-linux', {
      uname: 'case "$1" in -s) echo Linux ;; -r) echo 6.6.87-microsoft-standard-WSL2 ;; esac',
    });
    const runIt = (emulation: string, root: string) =>
      spawnSync(script('testbed/check-emulation.sh'), [emulation], {
        env: withPath(linux.dir, { MEC_KERNEL_ROOT: root }),
        encoding: 'utf8',
      });

    it('finds netem built into a WSL2 kernel that has only /proc/config.gz', () => {
      const root = kernel('wsl2', {
        'proc/config.gz': gzipSync('CONFIG_NET_SCH_HTB=y\nCONFIG_NET_SCH_NETEM=y\n'),
      });
      const r = runIt('netem', root);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /tc netem \(built into the kernel\)/);
    });

    it('finds a loadable module, or a loaded one', () => {
      const mod = kernel('module', {
        'lib/modules/6.6.87-microsoft-standard-WSL2/kernel/net/sched/sch_netem.ko.xz': '',
      });
      assert.match(runIt('netem', mod).stdout, /sch_netem present/);
      const loaded = kernel('loaded', { 'proc/modules': 'sch_netem 24576 0 - Live 0x0\n' });
      assert.match(runIt('netem', loaded).stdout, /sch_netem loaded/);
    });

    it('without netem: an explicit EMULATION=netem stops with the fix; auto says it will use the proxy', () => {
      const none = kernel('none', { 'proc/config.gz': gzipSync('# CONFIG_NET_SCH_NETEM is not set\n') });
      const explicit = runIt('netem', none);
      assert.equal(explicit.status, 3);
      assert.match(explicit.stderr, /sudo modprobe sch_netem/);
      assert.match(explicit.stderr, /make up EMULATION=proxy/);
      const auto = runIt('auto', none);
      assert.equal(auto.status, 0);
      assert.match(auto.stdout, /will use the userspace link proxy/);
      assert.equal(runIt('proxy', none).status, 0);
      assert.equal(runIt('tc', none).status, 2);
    });
  });

  describe('emulation.sh (inside a node, once the cluster runs)', () => {
    const probe = (answer: string, status: number) =>
      fakeBin(`docker-probe-${status}-${answer.length}`, { docker: `echo "${answer}"; exit ${status}` });
    const runIt = (emulation: string, dir: string) =>
      spawnSync(script('testbed/emulation.sh'), [emulation, 'mec-testbed-control-plane'], {
        env: withPath(dir),
        encoding: 'utf8',
      });

    it('netem works: both auto and netem give netem; the probe runs in the node on a throwaway veth', () => {
      const ok = probe('', 0);
      assert.equal(runIt('auto', ok.dir).stdout, 'netem\n');
      assert.equal(runIt('netem', ok.dir).stdout, 'netem\n');
      assert.match(
        ok.calls()[0] ?? '',
        /^docker exec mec-testbed-control-plane sh -c .*type veth.*netem delay 1ms/s,
      );
    });

    it('no netem (Docker Desktop, a kernel without the module): auto falls back to the proxy and says so', () => {
      for (const [answer, why] of [
        ['Error: Specified qdisc kind is unknown.', /no sch_netem module/],
        ['RTNETLINK answers: Operation not supported', /Docker Desktop/],
      ] as const) {
        const r = runIt('auto', probe(answer, 2).dir);
        assert.equal(r.status, 0);
        assert.equal(r.stdout, 'proxy\n');
        assert.match(r.stderr, why);
        assert.match(r.stderr, /using the userspace link proxy/);
      }
    });

    it('explicit netem that cannot work stops with the fix, deploying nothing; proxy never probes', () => {
      const r = runIt('netem', probe('Error: Specified qdisc kind is unknown.', 2).dir);
      assert.equal(r.status, 3);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /Nothing was deployed/);
      assert.match(r.stderr, /make up EMULATION=proxy/);
      const none = probe('', 0);
      assert.equal(runIt('proxy', none.dir).stdout, 'proxy\n');
      assert.deepEqual(none.calls(), []);
    });
  });

  describe('up.sh under stand-ins', () => {
    /** Fakes for everything up.sh calls; `probe` is what `docker exec` (the netem probe) answers. */
    const standIns = (name: string, opts: { probe?: [string, number]; docker?: 'down' } = {}) => {
      const [answer, status] = opts.probe ?? ['', 0];
      return fakeBin(name, {
        docker:
          opts.docker === 'down'
            ? 'exit 1'
            : `case "$1" in
  exec) [ "$3" = sh ] && { echo "${answer}"; exit ${status}; }; exit 0 ;;
  image) echo sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef ;;
  port) echo 127.0.0.1:3000 ;;
esac
exit 0`,
        kind: '[ "$1" = create ] && cat >/dev/null; exit 0',
        // kustomize prints the generated kustomization, apply echoes what it is given: both end up on stdout.
        kubectl:
          'case "$1 $3" in "kustomize "*) cat "$4/kustomization.yaml" ;; *" apply") cat ;; esac; exit 0',
        make: 'exit 0',
        cli: 'exit 0',
        curl: 'exit 6',
      });
    };
    const up = (fake: { dir: string }, extra: NodeJS.ProcessEnv = {}) =>
      spawnSync(script('testbed/up.sh'), [], {
        cwd: ROOT,
        encoding: 'utf8',
        env: withPath(fake.dir, {
          KIND: 'kind',
          KUBECTL: 'kubectl',
          KIND_CLUSTER: 'mec-testbed',
          KUBE_CONTEXT: 'kind-mec-testbed',
          KIND_NODE_IMAGE: 'img',
          MEC_CLI: 'cli --context kind-mec-testbed',
          GRAFANA_PORT: '23000',
          PROMETHEUS_PORT: '29090',
          MAKE: 'make',
          MEC_KERNEL_ROOT: join(fakes, 'no-kernel'),
          ...extra,
        }),
      });

    it('checks Docker before anything else: no cluster, no download, one clear message', () => {
      const fake = standIns('up-no-docker', { docker: 'down' });
      const r = up(fake, { KIND: `bin/kind-${versions.KIND_VERSION}-absent` });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /make up cannot start:\n\s+- Docker is not running/);
      assert.ok(!fake.calls().some((c) => /^(curl|kind|kubectl|make) /.test(c)), fake.calls().join('\n'));
    });

    it('auto without netem: creates, probes, builds, loads content-tagged images, applies the proxy overlay with pruning', () => {
      const fake = standIns('up-auto', { probe: ['Error: Specified qdisc kind is unknown.', 2] });
      const r = up(fake);
      assert.equal(r.status, 0, r.stderr);
      const calls = fake.calls();
      const at = (re: RegExp) => {
        const i = calls.findIndex((c) => re.test(c));
        assert.ok(i >= 0, `no call matching ${re} in:\n${calls.join('\n')}`);
        return i;
      };
      const order = [
        at(/^kind create cluster --name mec-testbed --config - --image img/),
        at(/^docker exec mec-testbed-control-plane sh -c/),
        at(/^make --no-print-directory images link-agent-image$/),
        at(/^docker tag mec-testbed\/edge:dev mec-testbed\/edge:dev-0123456789ab$/),
        at(/^kind load docker-image --name mec-testbed .*mec-testbed\/link-proxy:dev-0123456789ab/),
        at(/^kubectl kustomize --load-restrictor LoadRestrictionsNone /),
        at(
          /^kubectl --context kind-mec-testbed apply --server-side .*--prune --applyset=testbeds\.mec-testbed\.dev\/mec-testbed -f -$/,
        ),
        at(
          /^kubectl --context kind-mec-testbed -n kube-system patch deployment coredns .*node-role.kubernetes.io\/control-plane/,
        ),
        at(/^cli --context kind-mec-testbed ensure-secrets$/),
        at(/^cli --context kind-mec-testbed profile 5g-mec$/),
        at(/^cli --context kind-mec-testbed wait --timeout 300$/),
        at(/^cli --context kind-mec-testbed urls$/),
      ];
      assert.deepEqual(
        order,
        [...order].sort((a, b) => a - b),
        'in this order',
      );
      assert.ok(!calls.some((c) => / netem$/.test(c)), 'no netem report with the proxy');
      assert.match(r.stderr, /using the userspace link proxy/);
      assert.match(r.stdout, /resources: \[\.\.\/\.\.\/\.\.\/k8s\/overlays\/kind-proxy\]/);
      assert.match(
        r.stdout,
        /name: mec-testbed\/edge\n\s+newName: mec-testbed\/edge\n\s+newTag: "dev-0123456789ab"/,
      );
      assert.match(r.stdout, /emulation proxy \(auto\)/);
    });

    it('explicit netem on a kernel without it stops before downloading or creating anything', () => {
      const fake = standIns('up-netem', { probe: ['Error: Specified qdisc kind is unknown.', 2] });
      const r = up(fake, { EMULATION: 'netem' });
      assert.equal(r.status, 3);
      assert.match(r.stderr, /sudo modprobe sch_netem/);
      assert.ok(!fake.calls().some((c) => /^(kind|kubectl|make|curl) /.test(c)), fake.calls().join('\n'));
    });

    it('GRAFANA=off renders the headless component and creates no Grafana secret; netem gets its report', () => {
      const fake = standIns('up-headless');
      const r = up(fake, { GRAFANA: 'off', MEC_KERNEL_ROOT: '' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /components:\n\s+- \.\.\/\.\.\/\.\.\/k8s\/components\/headless/);
      assert.match(r.stdout, /resources: \[\.\.\/\.\.\/\.\.\/k8s\/overlays\/kind\]/);
      assert.ok(!fake.calls().some((c) => c.endsWith('ensure-secrets')));
      assert.ok(fake.calls().some((c) => c.endsWith(' netem')));
      assert.match(r.stdout, /headless/);
    });

    it('a mirror or air-gapped image for Prometheus is rendered in and loaded when it is local', () => {
      const fake = standIns('up-mirror');
      const r = up(fake, { PROMETHEUS_IMAGE: 'registry.local:5000/prometheus:v3.15.0' });
      assert.equal(r.status, 0, r.stderr);
      assert.match(
        r.stdout,
        /name: prom\/prometheus\n\s+newName: registry\.local:5000\/prometheus\n\s+newTag: "v3\.15\.0"/,
      );
      assert.ok(
        fake
          .calls()
          .some((c) => /^kind load docker-image .*registry\.local:5000\/prometheus:v3\.15\.0/.test(c)),
      );
    });

    it('refuses a bad variable before doing anything, listing every problem', () => {
      const fake = standIns('up-bad');
      const r = up(fake, { EMULATION: 'tc', GRAFANA: 'maybe', GRAFANA_PORT: '70000' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /EMULATION must be auto, netem or proxy, got 'tc'/);
      assert.match(r.stderr, /GRAFANA must be on or off, got 'maybe'/);
      assert.match(r.stderr, /GRAFANA_PORT must be a port number/);
      assert.ok(!fake.calls().some((c) => /^(kind|kubectl|make|curl) /.test(c)));
    });
  });

  describe('render.sh', () => {
    const render = (...args: string[]) =>
      execFileSync(script('testbed/render.sh'), [KUBECTL, ...args], { cwd: ROOT, encoding: 'utf8' });

    it('headless drops every Grafana object and nothing else', (t) => {
      if (!need(t, kubectl)) return;
      const kinds = (yaml: string) => yaml.split('\n').filter((l) => /^kind: /.test(l)).length;
      const full = render('k8s/overlays/kind-proxy');
      const headless = render('k8s/overlays/kind-proxy', '--headless');
      assert.match(full, /name: grafana\n/);
      assert.doesNotMatch(headless, /^\s+name: (grafana|mec-grafana-\S+|grafana-queries-\S+)$/m);
      assert.equal(
        kinds(full) - kinds(headless),
        8,
        'Deployment, Service, ServiceAccount, 3 ConfigMaps, 2 NetworkPolicies',
      );
      assert.match(headless, /name: prometheus\n/);
    });

    it('--profile puts the profile in force into the link-profile ConfigMap, byte for byte', (t) => {
      if (!need(t, kubectl)) return;
      const file = join(fakes, 'far-cloud.yaml');
      const text = execFileSync(process.execPath, ['services/cli/main.ts', 'profile-text', 'far-cloud'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      writeFileSync(file, text);
      const profiles = (overlay: string) =>
        parseAllDocuments(render(overlay, '--profile', file))
          .map((d) => d.toJS())
          .filter((d) => d?.kind === 'ConfigMap' && d.metadata.name === 'link-profile')
          .map((d) => [d.metadata.namespace, d.data['profile.yaml'] === text]);
      assert.deepEqual(profiles('k8s/overlays/kind-proxy'), [['mec-testbed-system', true]]);
      assert.deepEqual(profiles('k8s/overlays/kind'), [['mec-testbed-system', true]]);
    });

    it('--image replaces tags and digests through kustomize (content tags, mirrors)', (t) => {
      if (!need(t, kubectl)) return;
      const out = render(
        'k8s/overlays/kind',
        '--image',
        'mec-testbed/edge=mec-testbed/edge:dev-0123456789ab',
        '--image',
        'prom/prometheus=mirror.local:5000/prometheus:v3.15.0',
      );
      assert.match(out, /image: mec-testbed\/edge:dev-0123456789ab\n/);
      assert.match(out, /image: mirror\.local:5000\/prometheus:v3\.15\.0\n/);
      assert.match(out, /image: mec-testbed\/cloud:dev\n/);
      assert.equal(
        spawnSync(script('testbed/render.sh'), [KUBECTL, 'k8s/overlays/kind', '--image', 'x']).status,
        2,
      );
    });
  });

  it("apply.sh's ApplySet parent carries the ID kubectl computes for it", () => {
    // kubectl's ApplySet.ID(): base64url(sha256("<name>.<namespace>.<kind>.<group>")), no padding.
    const id = createHash('sha256').update('mec-testbed..Testbed.mec-testbed.dev').digest('base64url');
    const text = readFileSync(script('testbed/apply.sh'), 'utf8');
    assert.ok(text.includes(`applyset.kubernetes.io/id: applyset-${id}-v1`), id);
    assert.ok(text.includes('--applyset=testbeds.mec-testbed.dev/mec-testbed'));
  });

  it('load-images.sh loads the images that exist and reports the others', () => {
    const fake = fakeBin('docker-some', { docker: '[ "$3" = mec-testbed/edge:dev ]', kind: 'exit 0' });
    const r = spawnSync(
      script('testbed/load-images.sh'),
      ['kind', 'mec-testbed', 'mec-testbed/edge:dev', 'mec-testbed/cloud:dev'],
      {
        env: withPath(fake.dir),
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /image mec-testbed\/cloud:dev is not built/);
    assert.ok(fake.calls().includes('kind load docker-image --name mec-testbed mec-testbed/edge:dev'));
  });

  it('down.sh with no cluster says so and neither downloads kind nor calls it', () => {
    const fake = fakeBin('down-none', { docker: 'exit 0', curl: 'exit 6', kind: 'exit 0' });
    const r = spawnSync(script('testbed/down.sh'), [], {
      env: withPath(fake.dir, {
        KIND: `bin/kind-${versions.KIND_VERSION}-absent`,
        KIND_CLUSTER: 'mec-testbed',
      }),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /No kind cluster 'mec-testbed': nothing to delete/);
    assert.ok(!fake.calls().some((c) => /^(curl|kind) /.test(c)));
    const some = fakeBin('down-some', {
      docker: '[ "$1" = ps ] && echo mec-testbed-control-plane; exit 0',
      kind: 'exit 0',
    });
    execFileSync(script('testbed/down.sh'), [], {
      env: withPath(some.dir, { KIND: 'kind', KIND_CLUSTER: 'mec-testbed' }),
    });
    assert.ok(some.calls().includes('kind delete cluster --name mec-testbed'));
  });

  it('need-cluster.sh: no context in the kubeconfig means "not up", without running or installing kubectl', () => {
    const dir = join(fakes, 'kubeconfig');
    mkdirSync(dir, { recursive: true });
    const config = join(dir, 'config');
    writeFileSync(config, 'contexts:\n- context:\n    cluster: kind-other\n  name: kind-other\n');
    const fake = fakeBin('need-cluster', { curl: 'exit 6', kubectl: 'exit 0' });
    const env = (ctx: string) =>
      withPath(fake.dir, { KUBECONFIG: config, KUBECTL: 'kubectl', KUBE_CONTEXT: ctx });
    const r = spawnSync(script('testbed/need-cluster.sh'), [], {
      env: env('kind-mec-testbed'),
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /No kube context 'kind-mec-testbed' .*: the testbed is not up \(make up\)/);
    assert.equal(spawnSync(script('testbed/need-cluster.sh'), [], { env: env('kind-other') }).status, 0);
    assert.deepEqual(fake.calls(), []);
  });
});
