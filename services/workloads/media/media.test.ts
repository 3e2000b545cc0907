import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createMetrics, HttpError, silentLogger } from '../../skeleton/index.ts';
import { metricValue } from '../../skeleton/testing.ts';
import { EdgeCache } from './edge-cache.ts';
import { parseSegmentId, segmentBytes } from './segment.ts';

describe('media segments', () => {
  it('are deterministic per stream and segment, and differ between them', () => {
    const a = segmentBytes({ stream: 'cam1', segment: 7 }, 4099);
    assert.equal(a.length, 4099);
    assert.deepEqual(a, segmentBytes({ stream: 'cam1', segment: 7 }, 4099));
    assert.notDeepEqual(a, segmentBytes({ stream: 'cam1', segment: 8 }, 4099));
    assert.notDeepEqual(a, segmentBytes({ stream: 'cam2', segment: 7 }, 4099));
  });

  it('parses stream and segment ids', () => {
    assert.deepEqual(parseSegmentId('live_1', '42'), { stream: 'live_1', segment: 42 });
    assert.deepEqual(parseSegmentId('a', '000042.ts'), { stream: 'a', segment: 42 });
  });

  for (const [stream, segment, code] of [
    ['', '1', 'invalid_stream'],
    ['-x', '1', 'invalid_stream'],
    ['a/b', '1', 'invalid_stream'],
    ['x'.repeat(65), '1', 'invalid_stream'],
    ['s', '-1', 'invalid_segment'],
    ['s', '1.5', 'invalid_segment'],
    ['s', '1234567', 'invalid_segment'],
    ['s', '1.mp4', 'invalid_segment'],
  ]) {
    it(`refuses ${stream}/${segment} with 400 ${code}`, () => {
      assert.throws(
        () => parseSegmentId(stream, segment),
        (err: unknown) => err instanceof HttpError && err.status === 400 && err.code === code,
      );
    });
  }
});

describe('edge cache against a fake cloud', () => {
  let cloud: Server;
  let cloudUrl: string;
  let requests: string[] = [];
  let behaviour: 'ok' | 'slow' | 'error' | 'stall-body' = 'ok';
  const size = 1000;

  before(async () => {
    cloud = createServer((req: IncomingMessage, res: ServerResponse) => {
      requests.push(req.url ?? '');
      const match = /^\/api\/v1\/media\/([^/]+)\/(\d+)$/.exec(req.url ?? '');
      if (behaviour === 'slow') return; // never answers
      if (behaviour === 'error' || !match) {
        res.statusCode = 500;
        res.end('boom');
        return;
      }
      const body = segmentBytes({ stream: match[1] as string, segment: Number(match[2]) }, size);
      if (behaviour === 'stall-body') {
        res.writeHead(200, { 'content-length': String(size) });
        res.write(body.subarray(0, 10));
        return;
      }
      // A little delay so concurrent misses overlap.
      setTimeout(() => res.end(body), 30);
    });
    await new Promise<void>((resolve) => cloud.listen(0, '127.0.0.1', resolve));
    cloudUrl = `http://127.0.0.1:${(cloud.address() as AddressInfo).port}`;
  });
  after(() => {
    cloud.closeAllConnections();
    cloud.close();
  });

  function makeCache(overrides: { maxBytes?: number; timeoutMs?: number; cloudUrl?: string } = {}) {
    requests = [];
    behaviour = 'ok';
    const metrics = createMetrics('edge');
    const cache = new EdgeCache({
      cloudUrl: overrides.cloudUrl ?? cloudUrl,
      timeoutMs: overrides.timeoutMs ?? 2000,
      maxBytes: overrides.maxBytes ?? 10 * size,
      maxSegmentBytes: 10 * size,
      metrics,
      site: 'edge',
      log: silentLogger,
    });
    return { cache, metrics };
  }

  it('a miss fetches from the cloud, the next request hits without reaching it', async () => {
    const { cache, metrics } = makeCache();
    const first = await cache.get({ stream: 's', segment: 1 }, 'req-1');
    assert.equal(first.cache, 'miss');
    assert.deepEqual(first.body, segmentBytes({ stream: 's', segment: 1 }, size));
    const second = await cache.get({ stream: 's', segment: 1 }, 'req-2');
    assert.equal(second.cache, 'hit');
    assert.deepEqual(second.body, first.body);
    assert.deepEqual(requests, ['/api/v1/media/s/1']);
    const text = await metrics.registry.metrics();
    assert.equal(metricValue(text, 'mec_media_cache_lookups_total', { result: 'hit' }), 1);
    assert.equal(metricValue(text, 'mec_media_cache_lookups_total', { result: 'miss' }), 1);
    assert.equal(metricValue(text, 'mec_upstream_request_duration_seconds_count', { outcome: 'ok' }), 1);
  });

  it('coalesces concurrent misses for the same segment into one cloud fetch', async () => {
    const { cache } = makeCache();
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => cache.get({ stream: 's', segment: 2 }, `r${i}`)),
    );
    assert.equal(requests.length, 1);
    assert.ok(results.every((r) => r.cache === 'miss' && r.body.length === size));
    assert.equal(cache.inflight, 0);
    assert.equal((await cache.get({ stream: 's', segment: 2 }, 'x')).cache, 'hit');
  });

  it('evicts least recently used segments at MEDIA_CACHE_MAX_BYTES', async () => {
    const { cache } = makeCache({ maxBytes: 2 * size });
    for (const segment of [1, 2, 3]) await cache.get({ stream: 's', segment }, 'r');
    assert.deepEqual(cache.lru.keys(), ['s/2', 's/3']);
    assert.equal((await cache.get({ stream: 's', segment: 1 }, 'r')).cache, 'miss');
    assert.equal(requests.length, 4);
  });

  it('504 upstream_timeout when the cloud does not answer in time', async () => {
    const { cache, metrics } = makeCache({ timeoutMs: 200 });
    behaviour = 'slow';
    await assert.rejects(
      cache.get({ stream: 's', segment: 3 }, 'r'),
      (err: unknown) => err instanceof HttpError && err.status === 504 && err.code === 'upstream_timeout',
    );
    assert.equal(cache.lru.size, 0);
    assert.equal(cache.inflight, 0, 'a failed fetch is not left in flight (the next request retries)');
    const text = await metrics.registry.metrics();
    assert.equal(metricValue(text, 'mec_upstream_request_duration_seconds_count', { outcome: 'timeout' }), 1);
  });

  it('504 when the cloud stalls in the middle of the body', async () => {
    const { cache } = makeCache({ timeoutMs: 300 });
    behaviour = 'stall-body';
    await assert.rejects(
      cache.get({ stream: 's', segment: 4 }, 'r'),
      (err: unknown) => err instanceof HttpError && err.status === 504,
    );
  });

  it('502 upstream_error when the cloud answers with an error', async () => {
    const { cache } = makeCache();
    behaviour = 'error';
    await assert.rejects(
      cache.get({ stream: 's', segment: 5 }, 'r'),
      (err: unknown) => err instanceof HttpError && err.status === 502 && err.code === 'upstream_error',
    );
  });

  it('502 upstream_unreachable when nothing listens at CLOUD_URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { cache, metrics } = makeCache({ cloudUrl: `http://127.0.0.1:${port}` });
    await assert.rejects(
      cache.get({ stream: 's', segment: 6 }, 'r'),
      (err: unknown) => err instanceof HttpError && err.status === 502 && err.code === 'upstream_unreachable',
    );
    const text = await metrics.registry.metrics();
    assert.equal(
      metricValue(text, 'mec_upstream_request_duration_seconds_count', { outcome: 'unreachable' }),
      1,
    );
  });
});
