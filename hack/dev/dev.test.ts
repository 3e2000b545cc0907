import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadProfile } from '../../services/topology/index.ts';
import { freePorts } from '../../test/support/ports.ts';
import { budgetLines, DEFAULT_PORTS, devPorts, devProcesses } from './main.ts';

describe('make dev wiring', () => {
  it('defaults to the documented ports and validates overrides', () => {
    assert.deepEqual(devPorts({}).ports, DEFAULT_PORTS);
    const bad = devPorts({ DEV_EDGE_PORT: 'x', DEV_CLOUD_PORT: '9081' });
    assert.match(bad.errors.join('\n'), /DEV_EDGE_PORT="x" is invalid/);
    assert.match(bad.errors.join('\n'), /share a port/);
  });
  it('routes the UE ports through ue->edge and ue->cloud, and the edge CLOUD_URL through edge->cloud', () => {
    const [cloud, edge, proxy] = devProcesses(DEFAULT_PORTS, '5g-mec', {});
    assert.equal(cloud?.env.PORT, '9082');
    assert.equal(edge?.env.PORT, '9081');
    assert.equal(edge?.env.CLOUD_URL, 'http://127.0.0.1:9181');
    assert.deepEqual(proxy?.env.ROUTES?.split(','), [
      '127.0.0.1:8081=ue->edge=127.0.0.1:9081',
      '127.0.0.1:8082=ue->cloud=127.0.0.1:9082',
      '127.0.0.1:9181=edge->cloud=127.0.0.1:9082',
    ]);
    assert.equal(proxy?.env.PROFILE, '5g-mec');
  });
  it('prints the request budget of the profile', async () => {
    const lines = budgetLines(await loadProfile('5g-mec'));
    assert.match(lines[0] as string, /ue -> edge .*round trip 12ms.*24ms on a new one/);
    assert.match(lines[1] as string, /ue -> cloud .*round trip 30ms/);
  });
});

describe('make dev end to end', () => {
  it('starts cloud, edge and the proxy, serves both UE ports, switches profile, and stops cleanly on SIGINT', async () => {
    const [edge, cloud, edgeRaw, cloudRaw, edgeToCloud, admin] = (await freePorts(6)).map(String);
    const env = {
      ...process.env,
      PROFILE: '5g-mec',
      DEV_EDGE_PORT: edge,
      DEV_CLOUD_PORT: cloud,
      DEV_EDGE_RAW_PORT: edgeRaw,
      DEV_CLOUD_RAW_PORT: cloudRaw,
      DEV_EDGE_CLOUD_PORT: edgeToCloud,
      DEV_ADMIN_PORT: admin,
    };
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const child = spawn(process.execPath, ['hack/dev/main.ts'], {
      cwd: root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 30_000;
      while (!out.includes('dev   ready')) {
        assert.equal(child.exitCode, null, `launcher exited early:\n${out}`);
        assert.ok(Date.now() < deadline, `not ready in 30 s:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const e = await fetch(`http://127.0.0.1:${edge}/api/v1/echo?bytes=16`);
      assert.equal(e.status, 200);
      assert.equal(e.headers.get('x-mec-site'), 'edge');
      const c = await fetch(`http://127.0.0.1:${cloud}/api/v1/echo?bytes=16`);
      assert.equal(c.status, 200);
      assert.equal(c.headers.get('x-mec-site'), 'cloud');
      // The edge fetches media from the cloud across edge->cloud.
      const m = await fetch(`http://127.0.0.1:${edge}/api/v1/media/s/1`);
      assert.equal(m.status, 200);
      const links = (await (await fetch(`http://127.0.0.1:${admin}/api/v1/links`)).json()) as {
        routes: Array<{ path: string; connections: { total: number } }>;
      };
      assert.ok((links.routes.find((r) => r.path === 'edge->cloud')?.connections.total ?? 0) > 0);
      const switched = spawn(process.execPath, ['hack/dev/profile.ts', 'far-cloud'], { cwd: root, env });
      assert.equal(await new Promise((r) => switched.on('exit', r)), 0);
      const profile = (await (await fetch(`http://127.0.0.1:${admin}/api/v1/profile`)).json()) as {
        topology: { name: string };
      };
      assert.equal(profile.topology.name, 'far-cloud');
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, out);
    assert.match(out, /dev {3}stopped\n/);
    for (const port of [edge, cloud, edgeRaw, cloudRaw, admin]) {
      await assert.rejects(
        fetch(`http://127.0.0.1:${port}/healthz`),
        `port ${port} still answers after stop`,
      );
    }
  });
});
