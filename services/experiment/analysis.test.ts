import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { REQUEST_TIMEOUT_MS } from '../loadgen/http.ts';
import { runSiteStats } from './analysis.ts';
import type { RunRecord } from './execute.ts';
import type { StoredRequest } from './store.ts';

const run: RunRecord = {
  id: 'r1',
  condition: 'c1',
  repetition: 0,
  attempt: 'a',
  startedAt: '',
  endedAt: '',
  sites: [],
  drifted: false,
  host: {} as RunRecord['host'],
  proxyCounters: {},
  proxyCounterNames: [],
  requests: 0,
};

function request(site: string, latencyMs: number, status: number, error = ''): StoredRequest {
  return {
    run: 'r1',
    condition: 'c1',
    repetition: 0,
    site,
    workload: 'inspect',
    phase: 'measure',
    dueMs: 0,
    latencyMs,
    status,
    bytes: 0,
    sentBytes: 0,
    connection: 'reused',
    serverMs: Number.NaN,
    error,
  };
}

describe('runSiteStats', () => {
  it('counts a failed request at the timeout, so a site that sheds load with fast 503s does not look fast', () => {
    // A saturated edge: 70 answers in 5 ms, 30 turned away in 1 ms. A cloud that serves all 100 in 40 ms.
    const edge = [
      ...Array.from({ length: 70 }, () => request('edge', 5, 200)),
      ...Array.from({ length: 30 }, () => request('edge', 1, 503)),
    ];
    const cloud = Array.from({ length: 100 }, () => request('cloud', 40, 200));
    const e = runSiteStats(edge, run, 'edge');
    const c = runSiteStats(cloud, run, 'cloud');
    assert.equal(e.errors, 30);
    assert.equal(e.percentiles.p50, 5);
    assert.equal(e.percentiles.p90, REQUEST_TIMEOUT_MS);
    assert.ok(c.percentiles.p90 - e.percentiles.p90 < 0, 'the cloud wins at p90');
    // The mean stays that of the answered requests (shown beside the error ratio).
    assert.equal(e.meanMs, 5);
  });

  it('counts timeouts and requests never sent the same way, and a run with no failure as measured', () => {
    const xs = [
      ...Array.from({ length: 98 }, (_, i) => request('edge', i + 1, 200)),
      request('edge', Number.NaN, 0, 'timeout'),
      request('edge', Number.NaN, 0, 'dropped'),
    ];
    const s = runSiteStats(xs, run, 'edge');
    assert.equal(s.errors, 2);
    assert.equal(s.dropped, 1);
    assert.equal(s.percentiles.p99, REQUEST_TIMEOUT_MS);
    const clean = runSiteStats(xs.slice(0, 98), run, 'edge');
    assert.ok(clean.percentiles.p99 < 99);
  });
});
