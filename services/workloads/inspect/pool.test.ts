// The inspect worker pool: how many jobs run at once, the duty cycle of a fraction of a core, the bounded
// queue (503 with Retry-After beyond it), a waiting job dropped when its client goes away, the metrics; then the
// same through the edge's HTTP route.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { edgeService } from '../../edge/service.ts';
import { HttpError } from '../../skeleton/http-error.ts';
import { startTestService, type TestService } from '../../skeleton/testing.ts';
import { inspectConfigSpec } from './config.ts';
import { DEFAULT_DETECT_OPTIONS } from './detect.ts';
import { InspectPool, poolShape, retryAfterSeconds } from './pool.ts';
import type { InspectJob } from './worker.ts';

const TIMED = new URL('../../../test/support/timed-worker.ts', import.meta.url);

/** A job the timed worker computes for `ms` milliseconds. */
function timed(ms: number): InspectJob {
  return {
    kind: 'raw',
    body: new Uint8Array(1),
    width: ms,
    height: 1,
    maxPixels: 1,
    options: DEFAULT_DETECT_OPTIONS,
  };
}

interface Span {
  startedAt: number;
  endedAt: number;
}

function spanOf(run: Awaited<ReturnType<InspectPool['run']>>): Span {
  assert.ok(run.outcome.ok);
  return run.outcome.inspection as unknown as Span;
}

/** The most spans that overlap at any instant. */
function maxOverlap(spans: Span[]): number {
  const events = spans.flatMap((s) => [
    [s.startedAt, 1],
    [s.endedAt, -1],
  ]);
  events.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
  let now = 0;
  let most = 0;
  for (const [, delta] of events) {
    now += delta as number;
    most = Math.max(most, now);
  }
  return most;
}

describe('pool shape, Retry-After and SITE_CORES (pure)', () => {
  it('SITE_CORES takes cores or millicores from 0.1 to 64, and nothing else', () => {
    const parse = (raw: string) => inspectConfigSpec.siteCores.parse(raw);
    for (const [raw, value] of [
      ['1', 1],
      ['0.5', 0.5],
      ['500m', 0.5],
      ['100m', 0.1],
      ['64', 64],
      ['2.25', 2.25],
      ['64000m', 64],
    ] as const) {
      assert.deepEqual(parse(raw), { value }, raw);
    }
    for (const raw of [
      '0',
      '0.05',
      '99m',
      '65',
      '64001m',
      '1.2345',
      '-1',
      '1e1',
      'two',
      '',
      ' 1',
      '0x2',
      'Infinity',
    ]) {
      assert.ok('error' in parse(raw), raw);
    }
    assert.equal(inspectConfigSpec.siteCores.defaultValue, 1);
  });

  it('gives workers x duty = cores, whole workers, at least one', () => {
    for (const [cores, workers, duty] of [
      [0.1, 1, 0.1],
      [0.5, 1, 0.5],
      [1, 1, 1],
      [1.5, 2, 0.75],
      [2, 2, 1],
      [4, 4, 1],
      [64, 64, 1],
    ] as const) {
      assert.deepEqual(poolShape(cores), { workers, duty }, `${cores} cores`);
    }
    // Rounding down loses the fraction (a thread cannot compute more than a core).
    assert.deepEqual(poolShape(2.4), { workers: 2, duty: 1 });
  });

  it('Retry-After covers the queue ahead at the mean hold time, in whole seconds from 1 to 3600', () => {
    assert.equal(retryAfterSeconds(0, 1, 0.01), 1);
    assert.equal(retryAfterSeconds(63, 1, 0.1), 7);
    assert.equal(retryAfterSeconds(63, 4, 0.1), 2);
    assert.equal(retryAfterSeconds(1e9, 1, 10), 3600);
    assert.equal(retryAfterSeconds(3, 1, Number.NaN), 1);
  });
});

describe('inspect worker pool', () => {
  const pools: InspectPool[] = [];
  after(async () => {
    await Promise.all(pools.map((p) => p.close()));
  });
  const pool = (cores: number, queueLimit: number) => {
    const p = new InspectPool({
      cores,
      queueLimit,
      registry: new Registry(),
      site: 'edge',
      workerFile: TIMED,
    });
    pools.push(p);
    return p;
  };

  it('runs at most `cores` jobs at once; the rest wait in order and all complete', async () => {
    const p = pool(2, 10);
    await p.run(timed(1)); // start the threads before timing anything
    await Promise.all([p.run(timed(1)), p.run(timed(1))]);
    const runs = await Promise.all(Array.from({ length: 8 }, () => p.run(timed(60))));
    const spans = runs.map(spanOf);
    assert.equal(maxOverlap(spans), 2);
    // FIFO: the jobs that waited longest did not start before earlier ones.
    const waits = runs.map((r) => r.waitSeconds);
    assert.ok(
      waits.slice(2).every((w) => w > 0.03),
      `later jobs waited: ${waits.join(', ')}`,
    );
    assert.equal(p.busy, 0);
    assert.equal(p.queued, 0);
  });

  it('half a core: one worker that rests as long as it computed, so jobs start at least 2t apart', async () => {
    const p = pool(0.5, 10);
    assert.deepEqual(p.shape, { workers: 1, duty: 0.5 });
    await p.run(timed(1));
    await new Promise((r) => setTimeout(r, 20)); // the warm-up job's rest
    const spans = (await Promise.all(Array.from({ length: 4 }, () => p.run(timed(50))))).map(spanOf);
    spans.sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < spans.length; i++) {
      const prev = spans[i - 1] as Span;
      const gap = (spans[i] as Span).startedAt - prev.startedAt;
      const computed = prev.endedAt - prev.startedAt;
      // The rest is timed from the main thread: allow a few ms of message passing either way.
      assert.ok(
        gap >= 2 * computed - 5,
        `job ${i} started ${gap.toFixed(1)} ms after one that computed ${computed.toFixed(1)}`,
      );
    }
  });

  it('a full queue answers 503 with Retry-After at once and counts it; admitted jobs still complete', async () => {
    const registry = new Registry();
    const p = new InspectPool({ cores: 1, queueLimit: 2, registry, site: 'edge', workerFile: TIMED });
    pools.push(p);
    await p.run(timed(1));
    const admitted = [p.run(timed(80)), p.run(timed(10)), p.run(timed(10))];
    assert.equal(p.busy, 1);
    assert.equal(p.queued, 2);
    const text = await registry.metrics();
    assert.match(text, /^mec_inspect_queue_length\{site="edge"\} 2$/m);
    assert.match(text, /^mec_inspect_workers_busy\{site="edge"\} 1$/m);
    assert.match(text, /^mec_inspect_workers\{site="edge"\} 1$/m);
    assert.match(text, /^mec_inspect_queue_capacity\{site="edge"\} 2$/m);
    assert.match(text, /^mec_site_cores\{site="edge"\} 1$/m);
    await assert.rejects(
      p.run(timed(10)),
      (err: unknown) =>
        err instanceof HttpError &&
        err.status === 503 &&
        err.code === 'inspect_overloaded' &&
        Number(err.headers['retry-after']) >= 1,
    );
    assert.equal((await Promise.all(admitted)).length, 3);
    const after = await registry.metrics();
    assert.match(after, /^mec_inspect_rejected_total\{site="edge"\} 1$/m);
    assert.match(after, /^mec_inspect_queue_wait_seconds_count\{site="edge"\} 4$/m);
  });

  it('a waiting job whose client goes away leaves the queue; the running one finishes', async () => {
    const p = pool(1, 5);
    await p.run(timed(1));
    const running = p.run(timed(80));
    const gone = new AbortController();
    const waiting = p.run(timed(10), gone.signal);
    assert.equal(p.queued, 1);
    gone.abort();
    await assert.rejects(waiting, (err: unknown) => err instanceof HttpError && err.status === 499);
    assert.equal(p.queued, 0);
    assert.ok((await running).outcome.ok);
  });
});

describe('inspect over HTTP with a busy site', () => {
  let edge: TestService;
  after(async () => {
    await edge?.stop();
  });

  it('beyond the pool and its queue: 503, a JSON error and Retry-After; the admitted requests succeed', async () => {
    edge = await startTestService(edgeService, {
      SITE_CORES: '1',
      INSPECT_QUEUE_LIMIT: '1',
      CLOUD_URL: 'http://127.0.0.1:9',
    });
    // 8 Mpx raw grey: long enough (a few hundred ms) that all five arrive while the first runs.
    const width = 4096;
    const height = 2048;
    const body = new Uint8Array(width * height).fill(70);
    const send = () =>
      fetch(`${edge.url}/api/v1/inspect?width=${width}&height=${height}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
    assert.equal((await send()).status, 200); // threads started
    const responses = await Promise.all(Array.from({ length: 5 }, send));
    const statuses = responses.map((r) => r.status).sort();
    assert.equal(statuses.filter((s) => s === 200).length >= 2, true, `statuses ${statuses.join(', ')}`);
    assert.ok(
      statuses.every((s) => s === 200 || s === 503),
      `statuses ${statuses.join(', ')}`,
    );
    const refused = responses.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, `statuses ${statuses.join(', ')}`);
    for (const r of refused) {
      assert.ok(Number(r.headers.get('retry-after')) >= 1);
      const json = (await r.json()) as { error: { code: string } };
      assert.equal(json.error.code, 'inspect_overloaded');
    }
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    assert.match(metrics, new RegExp(`^mec_inspect_rejected_total\\{site="edge"\\} ${refused.length}$`, 'm'));
    assert.match(metrics, /^mec_http_request_duration_seconds_count\{[^}]*status_code="503"[^}]*\} \d+$/m);
  });
});
