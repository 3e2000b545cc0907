import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../skeleton/http-error.ts';
import { ProfileError } from '../topology/index.ts';
import { parseProfileOffLoop } from './admin-profile.ts';

const good = `apiVersion: mec-testbed.dev/v1alpha1
kind: LinkProfile
name: lab
links:
  ue-edge: { latency: 6ms }
  edge-cloud: { latency: 9ms }
`;

describe('parseProfileOffLoop', () => {
  it("does not count the worker's start against the parse's time bound", async () => {
    // Loading the worker's modules takes hundreds of milliseconds (seconds on a busy host); the parse of a small
    // profile a few. A bound counted from the start refused valid profiles whenever the host was slow.
    const topology = await parseProfileOffLoop(good, 'lab.yaml', 250);
    assert.equal(topology.name, 'lab');
  });

  it('answers a parse slower than its bound with 503 and Retry-After, not as an invalid profile', async () => {
    await assert.rejects(parseProfileOffLoop(good, 'lab.yaml', 0), (err: unknown) => {
      assert.ok(err instanceof HttpError, String(err));
      assert.equal(err.status, 503);
      assert.match(err.message, /the host is busy/);
      return true;
    });
    // The next one gets a fresh worker and goes through.
    assert.equal((await parseProfileOffLoop(good, 'lab.yaml')).name, 'lab');
  });

  it('refuses an invalid profile with its located problems', async () => {
    await assert.rejects(parseProfileOffLoop(good.replace('6ms', '6'), 'lab.yaml'), (err: unknown) => {
      assert.ok(err instanceof ProfileError, String(err));
      assert.match(err.message, /links\.ue-edge\.latency/);
      return true;
    });
  });
});
