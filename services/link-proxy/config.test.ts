import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseProxyConfig, parseRoute, proxyConfigSpec } from './config.ts';

describe('route specs', () => {
  it('parses listen host, path and upstream; the listen host defaults', () => {
    assert.deepEqual(parseRoute('8081=ue->edge=127.0.0.1:9081', '0.0.0.0'), {
      ok: true,
      route: {
        listenHost: '0.0.0.0',
        listenPort: 8081,
        from: 'ue',
        to: 'edge',
        upstreamHost: '127.0.0.1',
        upstreamPort: 9081,
      },
    });
    const r = parseRoute('127.0.0.1:0=edge->cloud=cloud.mec-testbed.svc:8080', '0.0.0.0');
    assert.ok(
      r.ok &&
        r.route.listenHost === '127.0.0.1' &&
        r.route.listenPort === 0 &&
        r.route.upstreamHost === 'cloud.mec-testbed.svc',
    );
  });
  for (const [spec, why] of [
    ['8081', /not a route spec/],
    ['8081=ue-edge=127.0.0.1:9081', /not a route spec/],
    ['8081=ue->ue=127.0.0.1:9081', /same site/],
    ['8081=UE->edge=127.0.0.1:9081', /not a site name/],
    ['99999=ue->edge=127.0.0.1:9081', /ports/],
    ['8081=ue->edge=127.0.0.1:0', /ports/],
  ] as const) {
    it(`refuses ${spec} and says how to write one`, () => {
      const r = parseRoute(spec, '0.0.0.0');
      assert.ok(!r.ok);
      assert.match(r.error, why);
      assert.match(r.error, /e\.g\. 8081=ue->edge=127\.0\.0\.1:9081/);
    });
  }
});

describe('proxy config', () => {
  it('reads the environment, with defaults', () => {
    const r = parseProxyConfig({ ROUTES: '8081=ue->edge=127.0.0.1:9081, 8082=ue->cloud=127.0.0.1:9082' }, []);
    assert.ok(r.ok);
    assert.equal(r.config.profile, '5g-mec');
    assert.equal(r.config.routes.length, 2);
    assert.equal(r.config.adminPort, 8474);
    assert.equal(r.config.lossMode, 'none');
    assert.equal(r.config.idleTimeoutSeconds, 60);
    assert.equal(r.config.seed, undefined);
  });
  it('flags win over the environment', () => {
    const r = parseProxyConfig({ ROUTES: '1=ue->edge=h:2', PROFILE: '4g-lte', ADMIN_PORT: '1' }, [
      '--profile',
      'far-cloud',
      '--route',
      '8081=ue->edge=127.0.0.1:9081',
      '--admin-port',
      '9000',
    ]);
    assert.ok(r.ok);
    assert.equal(r.config.profile, 'far-cloud');
    assert.equal(r.config.routes[0]?.listenPort, 8081);
    assert.equal(r.config.adminPort, 9000);
  });
  it('reports every bad variable at once, naming it and what is allowed', () => {
    const r = parseProxyConfig(
      {
        ROUTES: '8081=ue->edge=h:1,8081=ue->cloud=h:2',
        LOSS_MODE: 'drop',
        ADMIN_PORT: 'x',
        SEED: '-1',
        IDLE_TIMEOUT_SECONDS: '-1',
      },
      [],
    );
    assert.ok(!r.ok);
    const text = r.errors.join('\n');
    assert.match(text, /LOSS_MODE="drop" is invalid: expected one of none, rto/);
    assert.match(text, /ADMIN_PORT="x" is invalid/);
    assert.match(text, /SEED="-1"/);
    assert.match(text, /IDLE_TIMEOUT_SECONDS="-1" is invalid/);
    assert.match(text, /two routes listen on 0\.0\.0\.0:8081/);
  });
  it('needs at least one route; an unknown flag is an error', () => {
    const r = parseProxyConfig({}, ['--nope']);
    assert.ok(!r.ok);
    assert.match(r.errors.join('\n'), /ROUTES is empty/);
    assert.match(r.errors.join('\n'), /nope/);
  });
});

describe('README', () => {
  it('documents every variable the proxy reads, with the default it uses', () => {
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const documented = new Map<string, string>();
    for (const row of readme.split('\n').filter((l) => l.startsWith('| `'))) {
      const [names = '', defaults = ''] = row.split('|').slice(1, 3);
      const vars = [...names.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string);
      const values = defaults.split(',').map((d) => d.trim().replace(/`/g, ''));
      vars.forEach((v, i) => {
        documented.set(v, values[i] ?? '');
      });
    }
    for (const variable of Object.values(proxyConfigSpec)) {
      assert.ok(documented.has(variable.name), `${variable.name} is missing from the README's table`);
      const dflt = variable.defaultValue;
      if (dflt !== undefined && dflt !== '')
        assert.equal(documented.get(variable.name), String(dflt), `${variable.name}'s default in the README`);
    }
  });
});
