import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cloudService } from '../cloud/service.ts';
import { edgeService } from '../edge/service.ts';
import { loadConfig } from './app.ts';
import { bytesVar, commonConfigSpec, httpUrlVar, parseConfig, parseConfigPartial } from './config.ts';

describe('config validation', () => {
  it('uses the contract defaults when nothing is set', () => {
    const result = loadConfig(edgeService, {});
    assert.ok(result.ok);
    assert.equal(result.config.port, 8080);
    assert.equal(result.config.host, '0.0.0.0');
    assert.equal(result.config.logLevel, 'info');
    assert.equal(result.config.shutdownTimeoutSeconds, 10);
    assert.equal(result.config.cloudUrl, 'http://cloud:8080');
    assert.equal(result.config.cloudTimeoutMs, 2000);
    assert.equal(result.config.mediaCacheMaxBytes, 64 * 1024 * 1024);
  });

  it('reads valid values (trimmed, case-insensitive levels, byte suffixes, trailing slash dropped)', () => {
    const result = loadConfig(edgeService, {
      PORT: ' 9000 ',
      LOG_LEVEL: 'DEBUG',
      SHUTDOWN_TIMEOUT_SECONDS: '2.5',
      CLOUD_URL: 'http://10.0.0.2:8082/',
      MEDIA_CACHE_MAX_BYTES: '8Mi',
    });
    assert.ok(result.ok);
    assert.equal(result.config.port, 9000);
    assert.equal(result.config.logLevel, 'debug');
    assert.equal(result.config.shutdownTimeoutSeconds, 2.5);
    assert.equal(result.config.cloudUrl, 'http://10.0.0.2:8082');
    assert.equal(result.config.mediaCacheMaxBytes, 8 * 1024 * 1024);
  });

  const bad: [string, string, RegExp][] = [
    ['PORT', 'http', /PORT="http" is invalid: expected a whole number from 0 to 65535/],
    ['PORT', '65536', /PORT="65536" is invalid/],
    ['PORT', '-1', /PORT="-1" is invalid/],
    ['PORT', '80.5', /PORT="80.5" is invalid/],
    ['HOST', 'http://0.0.0.0', /HOST=.* is invalid: expected a hostname or an IP address/],
    ['LOG_LEVEL', 'verbose', /LOG_LEVEL="verbose" is invalid: expected one of debug, info, warn, error/],
    [
      'SHUTDOWN_TIMEOUT_SECONDS',
      'ten',
      /SHUTDOWN_TIMEOUT_SECONDS="ten" is invalid: expected a number from 0 to 600/,
    ],
    ['SHUTDOWN_TIMEOUT_SECONDS', '601', /SHUTDOWN_TIMEOUT_SECONDS/],
    ['CLOUD_URL', 'cloud:8080', /CLOUD_URL=.* is invalid: expected an (absolute )?http/],
    ['CLOUD_URL', 'ftp://cloud', /CLOUD_URL=.* is invalid: expected an http:\/\/ or https:\/\/ URL/],
    ['CLOUD_URL', 'http://cloud:8080/?x=1', /without a query/],
    ['CLOUD_TIMEOUT_MS', '0', /CLOUD_TIMEOUT_MS="0" is invalid: expected a whole number from 1 to 120000/],
    ['MEDIA_CACHE_MAX_BYTES', '64MB', /MEDIA_CACHE_MAX_BYTES="64MB" is invalid: expected a byte count/],
    ['MAX_BODY_BYTES', '0', /MAX_BODY_BYTES/],
  ];
  for (const [name, value, message] of bad) {
    it(`refuses ${name}=${JSON.stringify(value)} and names the variable`, () => {
      const result = loadConfig(edgeService, { [name]: value });
      assert.equal(result.ok, false);
      assert.ok(!result.ok);
      assert.equal(result.errors.length, 1, result.errors.join('\n'));
      assert.match(result.errors[0] as string, message);
    });
  }

  it('reports every bad variable at once', () => {
    const result = loadConfig(edgeService, { PORT: 'x', LOG_LEVEL: 'loud', CLOUD_URL: 'nope' });
    assert.ok(!result.ok);
    assert.deepEqual(
      result.errors.map((e) => e.split('=')[0]),
      ['PORT', 'LOG_LEVEL', 'CLOUD_URL'],
    );
  });

  it('partial parsing keeps the good values beside the errors (for checks that build on them)', () => {
    const { config, errors } = parseConfigPartial(commonConfigSpec, { PORT: 'x', HOST: '127.0.0.1' });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 8080);
    assert.deepEqual(errors, ['PORT="x" is invalid: expected a whole number from 0 to 65535']);
  });
  it('checks rules across variables', () => {
    const result = loadConfig(cloudService, { HEADERS_TIMEOUT_SECONDS: '20', REQUEST_TIMEOUT_SECONDS: '5' });
    assert.ok(!result.ok);
    assert.match(
      result.errors[0] as string,
      /HEADERS_TIMEOUT_SECONDS \(20\) must not exceed REQUEST_TIMEOUT_SECONDS \(5\)/,
    );
  });

  it('edge-only variables are ignored by the cloud', () => {
    assert.ok(loadConfig(cloudService, { CLOUD_URL: 'not a url' }).ok);
  });

  it('parsers are pure and reusable', () => {
    const spec = { size: bytesVar('SIZE', 'x', 1, 1, 2048), url: httpUrlVar('URL', 'x', 'http://a') };
    assert.deepEqual(parseConfig(spec, { SIZE: '2Ki', URL: 'https://b/c' }), {
      ok: true,
      config: { size: 2048, url: 'https://b/c' },
    });
    assert.equal(Object.keys(commonConfigSpec).length > 3, true);
  });
});
