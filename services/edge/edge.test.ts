// HTTP tests of the real edge and cloud apps, listening on free ports, the edge pointed at the cloud: every
// route, a table of bad inputs, and the edge's 502/504 when the cloud is gone or slow.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { cloudService } from '../cloud/service.ts';
import { metricValue, startTestService, type TestService } from '../skeleton/testing.ts';
import { encodeGrayPng, syntheticImage } from '../workloads/inspect/synthetic.ts';
import { segmentBytes } from '../workloads/media/segment.ts';
import { edgeService } from './service.ts';

type ErrorBody = { error: { code: string; message: string } };

describe('edge and cloud over HTTP', () => {
  let cloud: TestService;
  let edge: TestService;
  before(async () => {
    cloud = await startTestService(cloudService, { MEDIA_SEGMENT_BYTES: '64Ki' });
    edge = await startTestService(edgeService, {
      CLOUD_URL: cloud.url,
      MAX_BODY_BYTES: '2Mi',
      INSPECT_MAX_PIXELS: '1000000',
      MEDIA_CACHE_MAX_BYTES: '1Mi',
    });
  });
  after(async () => {
    await edge.stop();
    await cloud.stop();
  });

  it('GET /api/v1/echo?bytes=N on both sites returns N bytes with the site header', async () => {
    for (const svc of [edge, cloud]) {
      const response = await fetch(`${svc.url}/api/v1/echo?bytes=1000`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-mec-site'), svc.service.site);
      assert.match(response.headers.get('server-timing') ?? '', /^app;dur=/);
      assert.equal((await response.arrayBuffer()).byteLength, 1000);
    }
  });

  it('POST /api/v1/inspect with a PNG finds the defects; a clean raw image passes', async () => {
    const part = syntheticImage({ width: 400, height: 300, defects: 3, seed: 21 });
    const response = await fetch(`${edge.url}/api/v1/inspect`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: encodeGrayPng(part),
    });
    assert.equal(response.status, 200);
    const result = (await response.json()) as { verdict: string; defectCount: number; defects: unknown[] };
    assert.equal(result.verdict, 'fail');
    assert.equal(result.defectCount, 3);
    assert.equal(result.defects.length, 3);

    const clean = syntheticImage({ width: 400, height: 300, defects: 0, seed: 22 });
    const raw = await fetch(`${cloud.url}/api/v1/inspect`, {
      method: 'POST',
      headers: {
        'content-type': 'application/octet-stream',
        'x-image-width': '400',
        'x-image-height': '300',
      },
      body: clean.pixels,
    });
    assert.equal(raw.status, 200);
    assert.deepEqual(await raw.json(), {
      verdict: 'pass',
      width: 400,
      height: 300,
      defectCount: 0,
      defects: [],
      threshold: 40,
      minArea: 9,
    });
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    assert.equal(metricValue(metrics, 'mec_inspect_pixels_total', { site: 'edge' }), 120_000);
    assert.equal(metricValue(metrics, 'mec_workload_processing_seconds_count', { workload: 'inspect' }), 1);
  });

  it('GET /api/v1/media/:stream/:segment: cloud is the origin, edge misses then hits', async () => {
    const origin = await fetch(`${cloud.url}/api/v1/media/cam1/5`);
    assert.equal(origin.status, 200);
    const expected = segmentBytes({ stream: 'cam1', segment: 5 }, 64 * 1024);
    assert.deepEqual(Buffer.from(await origin.arrayBuffer()), expected);

    const cloudCount = async () =>
      metricValue(
        await (await fetch(`${cloud.url}/metrics`)).text(),
        'mec_http_request_duration_seconds_count',
        {
          route: '/api/v1/media/:stream/:segment',
        },
      );
    const before = await cloudCount();
    const miss = await fetch(`${edge.url}/api/v1/media/cam1/6.ts`, {
      headers: { 'x-request-id': 'trace-me' },
    });
    assert.equal(miss.status, 200);
    assert.equal(miss.headers.get('x-mec-cache'), 'miss');
    assert.equal(miss.headers.get('x-mec-site'), 'edge');
    assert.deepEqual(
      Buffer.from(await miss.arrayBuffer()),
      segmentBytes({ stream: 'cam1', segment: 6 }, 64 * 1024),
    );
    assert.equal(await cloudCount(), before + 1, 'the miss reached the cloud');
    const hit = await fetch(`${edge.url}/api/v1/media/cam1/6`);
    assert.equal(hit.headers.get('x-mec-cache'), 'hit');
    assert.equal((await hit.arrayBuffer()).byteLength, 64 * 1024);
    assert.equal(await cloudCount(), before + 1, 'the hit did not reach the cloud');
  });

  const png = encodeGrayPng(syntheticImage({ width: 64, height: 64, seed: 1 }));
  const bomb = Buffer.from(png.subarray(0, 33));
  bomb.writeUInt32BE(50_000, 16);
  bomb.writeUInt32BE(50_000, 20);
  const cases: { name: string; path: string; init?: RequestInit; status: number; code: string }[] = [
    { name: 'echo bytes not a number', path: '/api/v1/echo?bytes=lots', status: 400, code: 'invalid_bytes' },
    { name: 'echo bytes too large', path: '/api/v1/echo?bytes=2000000', status: 400, code: 'invalid_bytes' },
    { name: 'echo bytes negative', path: '/api/v1/echo?bytes=-5', status: 400, code: 'invalid_bytes' },
    { name: 'echo bytes repeated', path: '/api/v1/echo?bytes=1&bytes=2', status: 400, code: 'invalid_bytes' },
    { name: 'unknown route', path: '/api/v2/echo', status: 404, code: 'not_found' },
    {
      name: 'echo by POST',
      path: '/api/v1/echo',
      init: { method: 'POST' },
      status: 405,
      code: 'method_not_allowed',
    },
    { name: 'inspect by GET', path: '/api/v1/inspect', status: 405, code: 'method_not_allowed' },
    {
      name: 'inspect as JSON',
      path: '/api/v1/inspect',
      init: { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
      status: 415,
      code: 'unsupported_media_type',
    },
    {
      name: 'inspect gzip-encoded',
      path: '/api/v1/inspect',
      init: {
        method: 'POST',
        headers: { 'content-type': 'image/png', 'content-encoding': 'gzip' },
        body: png,
      },
      status: 415,
      code: 'unsupported_encoding',
    },
    {
      name: 'inspect body over MAX_BODY_BYTES',
      path: '/api/v1/inspect',
      init: {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: new Uint8Array(3 * 1024 * 1024),
      },
      status: 413,
      code: 'body_too_large',
    },
    {
      name: 'inspect empty body',
      path: '/api/v1/inspect',
      init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(0) },
      status: 400,
      code: 'empty_body',
    },
    {
      name: 'inspect undecodable PNG',
      path: '/api/v1/inspect',
      init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'definitely not a png' },
      status: 400,
      code: 'undecodable_image',
    },
    {
      name: 'inspect truncated PNG',
      path: '/api/v1/inspect',
      init: {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: png.subarray(0, png.length - 40),
      },
      status: 400,
      code: 'undecodable_image',
    },
    {
      name: 'inspect PNG header claiming 50000x50000',
      path: '/api/v1/inspect',
      init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: bomb },
      status: 413,
      code: 'image_too_large',
    },
    {
      name: 'inspect raw without dimensions',
      path: '/api/v1/inspect',
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(100),
      },
      status: 400,
      code: 'invalid_dimensions',
    },
    {
      name: 'inspect raw with the wrong size',
      path: '/api/v1/inspect?width=10&height=11',
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(100),
      },
      status: 400,
      code: 'size_mismatch',
    },
    {
      name: 'inspect raw over INSPECT_MAX_PIXELS',
      path: '/api/v1/inspect?width=2000&height=1000',
      init: {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new Uint8Array(100),
      },
      status: 413,
      code: 'image_too_large',
    },
    {
      name: 'inspect threshold out of range',
      path: '/api/v1/inspect?threshold=300',
      init: { method: 'POST', headers: { 'content-type': 'image/png' }, body: png },
      status: 400,
      code: 'invalid_threshold',
    },
    { name: 'media bad stream', path: '/api/v1/media/..%2F..%2Fetc/1', status: 400, code: 'invalid_stream' },
    { name: 'media bad segment', path: '/api/v1/media/cam1/abc', status: 400, code: 'invalid_segment' },
    { name: 'media missing segment', path: '/api/v1/media/cam1', status: 404, code: 'not_found' },
    {
      name: 'media by POST',
      path: '/api/v1/media/cam1/1',
      init: { method: 'POST' },
      status: 405,
      code: 'method_not_allowed',
    },
  ];
  for (const { name, path, init, status, code } of cases) {
    it(`bad input: ${name} → ${status} ${code}`, async () => {
      const response = await fetch(`${edge.url}${path}`, init);
      assert.equal(response.status, status);
      assert.equal(response.headers.get('x-mec-site'), 'edge');
      const body = (await response.json()) as ErrorBody;
      assert.equal(body.error.code, code, body.error.message);
      assert.ok(body.error.message.length > 10);
    });
  }

  it('the edge is still healthy after the bad inputs', async () => {
    assert.equal((await fetch(`${edge.url}/readyz`)).status, 200);
    assert.equal((await fetch(`${cloud.url}/readyz`)).status, 200);
  });
});

describe('edge when the cloud is unreachable or slow', () => {
  it('502 upstream_unreachable, then 504 upstream_timeout, in the JSON error shape', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const edge = await startTestService(edgeService, { CLOUD_URL: `http://127.0.0.1:${port}` });
    const unreachable = await fetch(`${edge.url}/api/v1/media/s/1`);
    assert.equal(unreachable.status, 502);
    assert.equal(((await unreachable.json()) as ErrorBody).error.code, 'upstream_unreachable');
    await edge.stop();

    const silent = createServer(() => {}); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const slowEdge = await startTestService(edgeService, {
      CLOUD_URL: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      CLOUD_TIMEOUT_MS: '300',
    });
    const timeout = await fetch(`${slowEdge.url}/api/v1/media/s/1`);
    assert.equal(timeout.status, 504);
    assert.equal(((await timeout.json()) as ErrorBody).error.code, 'upstream_timeout');
    const metrics = await (await fetch(`${slowEdge.url}/metrics`)).text();
    assert.equal(
      metricValue(metrics, 'mec_upstream_request_duration_seconds_count', { outcome: 'timeout' }),
      1,
    );
    assert.equal(
      metricValue(metrics, 'mec_http_request_duration_seconds_count', {
        route: '/api/v1/media/:stream/:segment',
        status_code: '504',
      }),
      1,
    );
    await slowEdge.stop();
    silent.closeAllConnections();
    silent.close();
  });
});
