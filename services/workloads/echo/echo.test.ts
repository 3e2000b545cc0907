import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../skeleton/index.ts';
import { ECHO_DEFAULT_BYTES, ECHO_MAX_BYTES, echoPayload, parseEchoBytes } from './echo.ts';

describe('echo workload', () => {
  it('parses bytes within bounds, with a default', () => {
    assert.equal(parseEchoBytes(undefined), ECHO_DEFAULT_BYTES);
    assert.equal(parseEchoBytes('0'), 0);
    assert.equal(parseEchoBytes('1024'), 1024);
    assert.equal(parseEchoBytes(String(ECHO_MAX_BYTES)), ECHO_MAX_BYTES);
  });

  for (const bad of ['', '-1', '1.5', 'abc', '1e3', String(ECHO_MAX_BYTES + 1), '99999999999', ['1', '2']]) {
    it(`refuses bytes=${JSON.stringify(bad)} with 400 invalid_bytes`, () => {
      assert.throws(
        () => parseEchoBytes(bad),
        (err: unknown) => err instanceof HttpError && err.status === 400 && err.code === 'invalid_bytes',
      );
    });
  }

  it('makes exactly the requested bytes of a repeating pattern', () => {
    for (const n of [0, 1, 55, 56, 57, 1000, 65536]) {
      const body = echoPayload(n);
      assert.equal(body.length, n);
      if (n > 60) assert.equal(body.subarray(0, 4).toString(), body.subarray(54, 58).toString());
    }
    assert.equal(echoPayload(16).toString(), 'mec-testbed echo');
  });
});
