// The offline-CI pieces that can be checked without a cluster: the scripts pass shellcheck, the runc wrapper
// strips exactly the capabilities this process's bounding set lacks (and nothing else), the default CNI manifest
// carries what kind looks for. The real run of all of it is `make kind-e2e`.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { commandWorks, need } from '../../test/support/requirements.ts';

const HERE = fileURLToPath(new URL('./', import.meta.url));
const shellcheck = commandWorks('shellcheck', ['--version'], 'shellcheck (apt-get install shellcheck)');
const jq = commandWorks('jq', ['--version'], 'jq (apt-get install jq)');
const tmp = mkdtempSync(join(tmpdir(), 'mec-offline-ci-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const CAP_NAMES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((n) => `CAP_${n}`);

describe('hack/offline-ci', () => {
  it('scripts pass shellcheck', (t) => {
    if (!need(t, shellcheck)) return;
    const scripts = readdirSync(HERE).filter((f) => f.endsWith('.sh'));
    const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', ...scripts], { cwd: HERE, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout);
  });

  describe('runc-wrapper.sh', () => {
    // A stand-in for the real runc that records its arguments.
    const fakeRunc = join(tmp, 'runc');
    writeFileSync(fakeRunc, `#!/bin/sh\necho "$@" > "${join(tmp, 'runc.args')}"\n`);
    chmodSync(fakeRunc, 0o755);
    const bounding = BigInt(
      `0x${/CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]}`,
    );
    const held = CAP_NAMES.filter((_, i) => (bounding >> BigInt(i)) & 1n);
    const wrapper = (args: string[]) =>
      execFileSync(join(HERE, 'runc-wrapper.sh'), args, {
        env: { ...process.env, MEC_KIND_REAL_RUNC: fakeRunc },
      });
    const allCaps = {
      bounding: CAP_NAMES,
      effective: CAP_NAMES,
      permitted: CAP_NAMES,
      inheritable: [] as string[],
    };

    it('create: keeps every capability this process holds, drops the rest, passes the arguments on', (t) => {
      if (!need(t, jq)) return;
      const bundle = mkdtempSync(join(tmp, 'bundle-'));
      writeFileSync(
        join(bundle, 'config.json'),
        JSON.stringify({ ociVersion: '1.0.2', process: { capabilities: allCaps } }),
      );
      wrapper(['--root', '/run/x', 'create', '--bundle', bundle, 'id1']);
      const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
      assert.deepEqual(spec.process.capabilities.bounding, held);
      assert.deepEqual(spec.process.capabilities.effective, held);
      assert.deepEqual(spec.process.capabilities.inheritable, []);
      assert.equal(spec.ociVersion, '1.0.2');
      assert.equal(
        readFileSync(join(tmp, 'runc.args'), 'utf8').trim(),
        `--root /run/x create --bundle ${bundle} id1`,
      );
    });

    it('exec: strips the --process spec the same way; other commands are left alone', (t) => {
      if (!need(t, jq)) return;
      const file = join(tmp, 'process.json');
      writeFileSync(file, JSON.stringify({ args: ['sh'], capabilities: allCaps }));
      wrapper(['exec', '--process', file, 'id1']);
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).capabilities.permitted, held);
      wrapper(['state', 'id1']);
      assert.equal(readFileSync(join(tmp, 'runc.args'), 'utf8').trim(), 'state id1');
    });
  });

  it("default-cni.yaml: kind's patch marker, an env list on every DaemonSet's first container, the image placeholders", () => {
    const text = readFileSync(join(HERE, 'default-cni.yaml'), 'utf8');
    assert.match(text, /would you kindly patch this file/); // kind then adds CONTROL_PLANE_ENDPOINT
    const docs = parseAllDocuments(text)
      .map((d) => d.toJS())
      .filter(Boolean);
    const daemonSets = docs.filter((d) => d.kind === 'DaemonSet');
    assert.deepEqual(
      daemonSets.map((d) => d.metadata.name),
      ['node-routes', 'kube-router'],
    );
    for (const ds of daemonSets) {
      const c = ds.spec.template.spec.containers[0];
      assert.ok(Array.isArray(c.env), `${ds.metadata.name}: kind's JSON patch appends to env`);
      assert.match(c.image, /^IMAGE_[A-Z_]+$/);
      assert.equal(ds.spec.template.spec.hostNetwork, true);
    }
    assert.match(text, /--run-router=false/);
    assert.match(text, /--run-service-proxy=false/);
  });
});
