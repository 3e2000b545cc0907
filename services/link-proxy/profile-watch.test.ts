// The cluster's profile delivery (PROFILE_CONFIGMAP) against an in-process fake API server: the proxy starts
// from the ConfigMap (waiting for it if need be), takes a change within a moment with its open connections
// kept (their next bytes cross the new links), refuses an invalid change, and follows the API server through a
// restart. The real API server and the proxy's RBAC are checked in k8s/cluster.kube.test.ts.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FakeApiServer } from '../../test/support/fake-apiserver.ts';
import { HttpError } from '../skeleton/http-error.ts';
import { parseProfileText } from '../topology/index.ts';
import { parseProxyConfig } from './config.ts';
import { watchProfile } from './profile-watch.ts';
import { type LinkProxyService, startLinkProxy } from './service.ts';

const NS = 'mec-testbed-system';
const profile = (name: string, latency: string) =>
  `apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: ${name}\nlinks:\n  ue-edge: { latency: ${latency} }\n  edge-cloud: { latency: 1ms }\n`;
const configMap = (text: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'link-profile', namespace: NS },
  data: { 'profile.yaml': text },
});

function roundTrip(s: net.Socket): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    s.once('data', () => resolve(performance.now() - t0));
    s.write('ping');
  });
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

describe('the profile from a ConfigMap, watched through the API', () => {
  let api: FakeApiServer;
  let echo: net.Server;
  let svc: LinkProxyService;
  let conn: net.Socket;
  const logs: string[] = [];
  before(async () => {
    api = new FakeApiServer(NS);
    await api.start();
    echo = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const parsed = parseProxyConfig(
      {
        HOST: '127.0.0.1',
        ADMIN_PORT: '0',
        PROFILE_CONFIGMAP: `${NS}/link-profile`,
        ROUTES: `0=ue->edge=127.0.0.1:${(echo.address() as net.AddressInfo).port}`,
      },
      [],
    );
    assert.ok(parsed.ok);
    // Started before the ConfigMap exists: it waits for it, saying why.
    const starting = startLinkProxy(parsed.config, (_level, msg) => logs.push(msg), {
      kubeConfig: api.kubeConfig(),
      restartDelayMs: 200,
    });
    await until(
      'a log saying what it waits for',
      () => logs.some((l) => /waiting for a profile/.test(l)),
      5000,
    );
    api.put('configmaps', configMap(profile('first', '5ms')));
    svc = await starting;
    conn = net.connect({ port: svc.routePorts()[0] as number, host: '127.0.0.1', noDelay: true });
    await new Promise((r) => conn.once('connect', r));
    await roundTrip(conn); // the handshake's round trips
  });
  after(async () => {
    conn?.destroy();
    await svc?.stop();
    await api.stop();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('starts with the profile the ConfigMap holds', async () => {
    assert.equal(svc.proxy.topology.name, 'first');
    const rtt = await roundTrip(conn);
    assert.ok(rtt >= 10, `round trip ${rtt} ms under 2 × 5 ms`);
  });

  it('a change is in force within a moment, and the open connection carries it', async () => {
    api.put('configmaps', configMap(profile('second', '30ms')));
    const ms = await until('the change', () => svc.proxy.topology.name === 'second', 2000);
    assert.ok(ms < 2000, `applied after ${ms} ms`);
    assert.equal(conn.destroyed, false);
    const rtt = await roundTrip(conn);
    assert.ok(rtt >= 60, `round trip ${rtt} ms on the same connection, under 2 × 30 ms`);
  });

  it('an invalid change is refused and counted; the profile in force stays', async () => {
    api.put('configmaps', configMap('name: [broken'));
    await until('the rejection', () => logs.some((l) => /invalid: the old one stays/.test(l)), 3000);
    assert.equal(svc.proxy.topology.name, 'second');
    const text = await (await fetch(`http://127.0.0.1:${svc.adminPort()}/metrics`)).text();
    assert.match(text, /mec_link_proxy_profile_changes_total\{outcome="rejected"\} [1-9]/);
  });

  it('follows the API server through a restart', async () => {
    const port = api.port;
    await api.stop();
    await new Promise((r) => setTimeout(r, 500));
    await api.start(port);
    api.put('configmaps', configMap(profile('third', '2ms')));
    await until('the change after the restart', () => svc.proxy.topology.name === 'third', 10_000);
    assert.equal(conn.destroyed, false);
  });
});

describe('a profile version the validator was too busy for', () => {
  it('is tried again until it parses, not taken for an invalid one (the proxy would never become ready)', async () => {
    const api = new FakeApiServer(NS);
    await api.start();
    api.put('configmaps', configMap(profile('busy-at-first', '3ms')));
    const logs: string[] = [];
    let calls = 0;
    const watch = watchProfile({
      namespace: NS,
      name: 'link-profile',
      kc: api.kubeConfig(),
      log: (_level, msg) => logs.push(msg),
      apply: () => ({ ok: true }),
      parse: async (text, source) => {
        calls++;
        if (calls <= 2) throw new HttpError(503, 'busy', 'the profile took more than 2000 ms to validate');
        return parseProfileText(text, source);
      },
    });
    try {
      const first = await Promise.race([
        watch.first,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`no first profile after 10 s:\n${logs.join('\n')}`)), 10_000),
        ),
      ]);
      assert.equal(first.topology.name, 'busy-at-first');
      assert.equal(calls, 3, 'two busy answers, then the parse');
      assert.equal(logs.filter((l) => /validator is busy/.test(l)).length, 1, 'said once, not per retry');
      assert.ok(!logs.some((l) => /no valid profile/.test(l)), logs.join('\n'));
    } finally {
      await watch.stop();
      await api.stop();
    }
  });
});
