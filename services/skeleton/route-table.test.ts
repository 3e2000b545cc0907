import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRoutes } from './route-table.ts';

const table = compileRoutes([
  { method: 'GET', path: '/healthz', value: 'health' },
  { method: 'GET', path: '/api/v1/echo', value: 'echo' },
  { method: 'POST', path: '/api/v1/inspect', value: 'inspect' },
  { method: 'GET', path: '/api/v1/media/:stream/:segment', value: 'media' },
  { method: 'GET', path: '/a.b/:x', value: 'dot' },
]);

describe('route table', () => {
  it('matches static paths and HEAD as GET', () => {
    assert.deepEqual(table.match('GET', '/api/v1/echo'), {
      kind: 'found',
      value: 'echo',
      path: '/api/v1/echo',
      params: {},
    });
    assert.equal(table.match('HEAD', '/healthz').kind, 'found');
    assert.equal(table.match('GET', '/healthz/').kind, 'found', 'one trailing slash is tolerated');
  });

  it('matches templates and decodes parameters', () => {
    assert.deepEqual(table.match('GET', '/api/v1/media/cam%201/7.ts'), {
      kind: 'found',
      value: 'media',
      path: '/api/v1/media/:stream/:segment',
      params: { stream: 'cam 1', segment: '7.ts' },
    });
    assert.equal(table.match('GET', '/api/v1/media/cam1').kind, 'none');
    assert.equal(table.match('GET', '/api/v1/media/cam1/2/3').kind, 'none');
    assert.equal(
      table.match('GET', '/api/v1/media/%E0%A4%A/1').kind,
      'none',
      'malformed escapes do not throw',
    );
    assert.equal(table.match('GET', '/aXb/1').kind, 'none', 'literal parts are escaped');
  });

  it('reports the allowed methods for a known path with another method', () => {
    assert.deepEqual(table.match('POST', '/api/v1/echo'), {
      kind: 'method',
      path: '/api/v1/echo',
      allow: 'GET, HEAD',
    });
    assert.deepEqual(table.match('GET', '/api/v1/inspect'), {
      kind: 'method',
      path: '/api/v1/inspect',
      allow: 'POST',
    });
    assert.deepEqual(table.match('DELETE', '/api/v1/media/a/1'), {
      kind: 'method',
      path: '/api/v1/media/:stream/:segment',
      allow: 'GET, HEAD',
    });
  });

  it('unknown paths are none; duplicate routes are refused at start', () => {
    assert.deepEqual(table.match('GET', '/nope'), { kind: 'none' });
    assert.throws(
      () =>
        compileRoutes([
          { method: 'GET', path: '/x', value: 1 },
          { method: 'GET', path: '/x', value: 2 },
        ]),
      /defined twice/,
    );
  });
});
