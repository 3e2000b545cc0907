// HTTP tests of the skeleton against a real listening server (port 0): health, readiness, metrics, headers,
// request ids, the JSON error shape for every 4xx/5xx, body limits, content types, slow and half-sent requests,
// and draining in-process (the SIGTERM path with a real child process is in drain.test.ts).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RouteSpec, ServiceDefinition } from './app.ts';
import { metricValue, rawRequest, startTestService, type TestService } from './testing.ts';

let releaseSlow: () => void = () => {};
const slowStarted: (() => void)[] = [];

const routes: RouteSpec[] = [
  {
    method: 'POST',
    path: '/api/v1/body',
    body: { types: ['application/octet-stream'] },
    handler: (req, res) => {
      res.json({ bytes: (req.body as Buffer).length });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/slow',
    handler: async (_req, res, ctx) => {
      for (const notify of slowStarted.splice(0)) notify();
      await ctx.timeWorkload('echo', () => new Promise<void>((resolve) => (releaseSlow = resolve)));
      res.json({ done: true });
    },
  },
  {
    method: 'GET',
    path: '/api/v1/boom',
    handler: () => {
      throw new Error('secret internals');
    },
  },
];

const testService: ServiceDefinition = { site: 'edge', configSpec: {}, routes: () => routes };

function waitForSlowRequest(): Promise<void> {
  return new Promise((resolve) => slowStarted.push(resolve));
}

/** The head of a POST to the body route with the given framing header (Content-Length or Transfer-Encoding). */
function bodyRequest(framing: string): string {
  return `POST /api/v1/body HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n${framing}\r\n\r\n`;
}

async function assertJsonError(response: Response, status: number, code: string) {
  assert.equal(response.status, status);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/);
  assert.equal(response.headers.get('x-mec-site'), 'edge');
  const body = (await response.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 10, 'the message says what was wrong');
}

describe('skeleton over HTTP', () => {
  let svc: TestService;
  before(async () => {
    svc = await startTestService(testService, {
      MAX_BODY_BYTES: '1Ki',
      HEADERS_TIMEOUT_SECONDS: '1',
      REQUEST_TIMEOUT_SECONDS: '2',
    });
  });
  after(async () => {
    await svc.stop();
  });

  it('GET /healthz and /readyz answer 200 with the site', async () => {
    const health = await fetch(`${svc.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok', site: 'edge' });
    const ready = await fetch(`${svc.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready', site: 'edge' });
  });

  it('every response carries x-mec-site, Server-Timing and a request id; a valid incoming id is kept', async () => {
    const response = await fetch(`${svc.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    await response.arrayBuffer();
    assert.equal(response.headers.get('x-mec-site'), 'edge');
    assert.match(response.headers.get('server-timing') ?? '', /^app;dur=\d+(\.\d+)?$/);
    assert.equal(response.headers.get('x-request-id'), 'abc-123');
    const other = await fetch(`${svc.url}/nope`, { headers: { 'x-request-id': 'bad id with spaces' } });
    await other.arrayBuffer();
    assert.match(other.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.match(other.headers.get('server-timing') ?? '', /^app;dur=/);
  });

  it('GET /metrics exposes the contract metrics with route templates and default process metrics', async () => {
    await (await fetch(`${svc.url}/api/v1/no-such-route`)).arrayBuffer();
    await (await fetch(`${svc.url}/healthz`)).arrayBuffer();
    const response = await fetch(`${svc.url}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/plain/);
    const text = await response.text();
    assert.ok(
      metricValue(text, 'mec_http_request_duration_seconds_count', {
        route: '/healthz',
        status_code: '200',
      }) >= 1,
    );
    assert.ok(
      metricValue(text, 'mec_http_request_duration_seconds_count', {
        route: 'unmatched',
        status_code: '404',
      }) >= 1,
    );
    assert.match(text, /mec_http_request_duration_seconds_bucket\{le="0.0005",site="edge"/);
    assert.match(text, /le="5",site="edge"/);
    assert.match(text, /^process_cpu_seconds_total /m);
    assert.match(text, /^nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(text, /no-such-route/, 'raw paths never become label values');
  });

  const badRequests: { name: string; init: RequestInit & { path: string }; status: number; code: string }[] =
    [
      { name: 'unknown route', init: { path: '/api/v1/unknown' }, status: 404, code: 'not_found' },
      {
        name: 'wrong method',
        init: { path: '/healthz', method: 'DELETE' },
        status: 405,
        code: 'method_not_allowed',
      },
      {
        name: 'missing content type',
        init: { path: '/api/v1/body', method: 'POST', body: new Uint8Array([1, 2, 3]) },
        status: 415,
        code: 'unsupported_media_type',
      },
      {
        name: 'wrong content type',
        init: {
          path: '/api/v1/body',
          method: 'POST',
          body: '{}',
          headers: { 'content-type': 'application/json' },
        },
        status: 415,
        code: 'unsupported_media_type',
      },
      {
        name: 'body over MAX_BODY_BYTES',
        init: {
          path: '/api/v1/body',
          method: 'POST',
          body: new Uint8Array(2048),
          headers: { 'content-type': 'application/octet-stream' },
        },
        status: 413,
        code: 'body_too_large',
      },
      {
        name: 'handler error (no internals leak)',
        init: { path: '/api/v1/boom' },
        status: 500,
        code: 'internal',
      },
    ];
  for (const { name, init, status, code } of badRequests) {
    it(`${name} → ${status} ${code} in the JSON error shape`, async () => {
      const { path, ...rest } = init;
      const response = await fetch(`${svc.url}${path}`, rest);
      if (status === 500) {
        const text = await response.clone().text();
        assert.doesNotMatch(text, /secret internals/);
      }
      await assertJsonError(response, status, code);
    });
  }

  it('405 says which methods are allowed', async () => {
    const response = await fetch(`${svc.url}/api/v1/body`, { method: 'GET' });
    assert.equal(response.headers.get('allow'), 'POST');
    await assertJsonError(response, 405, 'method_not_allowed');
    const get = await fetch(`${svc.url}/metrics`, { method: 'PUT' });
    assert.equal(get.headers.get('allow'), 'GET, HEAD');
    await assertJsonError(get, 405, 'method_not_allowed');
  });

  it('accepts a body within the limit', async () => {
    const response = await fetch(`${svc.url}/api/v1/body`, {
      method: 'POST',
      body: new Uint8Array(1000),
      headers: { 'content-type': 'application/octet-stream' },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { bytes: 1000 });
  });

  it('a chunked body that grows past the limit → 413; the rest is read off and dropped, not kept', async () => {
    const head = bodyRequest('Transfer-Encoding: chunked');
    const chunk = `800\r\n${'a'.repeat(0x800)}\r\n`;
    const response = await rawRequest(svc.port, [head, chunk, chunk, chunk, '0\r\n\r\n'], {
      timeoutMs: 5000,
    });
    assert.equal(response.status, 413);
    assert.equal(JSON.parse(response.body).error.code, 'body_too_large');
    assert.equal(response.headers.connection, 'close');
  });

  it('a declared Content-Length over the limit → 413 at once, before any of the body arrives', async () => {
    const head = bodyRequest('Content-Length: 1000000000');
    const response = await rawRequest(svc.port, [head], { timeoutMs: 5000 });
    assert.equal(response.status, 413);
    assert.equal(JSON.parse(response.body).error.code, 'body_too_large');
    assert.ok(response.elapsedMs < 1000, `answered after ${response.elapsedMs} ms`);
  });

  it('a chunked body that grows past the limit and never ends → 408 within REQUEST_TIMEOUT_SECONDS', async () => {
    const head = bodyRequest('Transfer-Encoding: chunked');
    const chunk = `800\r\n${'a'.repeat(0x800)}\r\n`;
    const response = await rawRequest(svc.port, [head, chunk, chunk], { timeoutMs: 8000 });
    assert.equal(response.status, 408);
    assert.ok(response.elapsedMs < 7000, `closed after ${response.elapsedMs} ms`);
  });

  it('a connection that never sends a byte is closed after HEADERS_TIMEOUT_SECONDS', async () => {
    const response = await rawRequest(svc.port, [], { timeoutMs: 8000 });
    assert.equal(response.status, 0, 'no request, no answer');
    assert.ok(
      response.elapsedMs >= 900 && response.elapsedMs < 4000,
      `closed after ${response.elapsedMs} ms`,
    );
  });

  const malformed: { name: string; request: string; status: number }[] = [
    {
      name: 'bad percent-encoding in a path',
      request: 'GET /api/v1/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n',
      status: 404,
    },
    {
      name: 'an absolute URL with a bad host',
      request: 'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n',
      status: 400,
    },
    {
      name: 'a request target that is not a path',
      request: 'GET * HTTP/1.1\r\nHost: x\r\n\r\n',
      status: 404,
    },
    { name: 'an unknown method', request: 'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n', status: 400 },
    {
      name: 'a method express does not route',
      request: 'PROPFIND /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
      status: 405,
    },
    {
      name: 'a compressed body',
      request:
        'POST /api/v1/body HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc',
      status: 415,
    },
    {
      name: 'a body shorter than its Content-Length, then closed',
      request:
        'POST /api/v1/body HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\nabc',
      status: 400,
    },
    {
      name: 'both Content-Length and Transfer-Encoding',
      request:
        'POST /api/v1/body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      status: 400,
    },
    {
      name: 'a NUL in a header',
      request: 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n',
      status: 400,
    },
    { name: 'a long path', request: `GET /${'a'.repeat(8000)} HTTP/1.1\r\nHost: x\r\n\r\n`, status: 404 },
  ];
  for (const { name, request, status } of malformed) {
    it(`${name} → ${status} JSON, no internals, no echo of the input`, async () => {
      const response = await rawRequest(svc.port, [request], {
        timeoutMs: 5000,
        endAfterWrite: name.includes('then closed'),
      });
      if (name.includes('then closed') && response.status === 0) return; // nobody left to answer
      assert.equal(response.status, status, response.body);
      const body = JSON.parse(response.body) as { error: { code: string; message: string } };
      assert.ok(body.error.code && body.error.message, response.body);
      assert.ok(response.body.length < 600, `the answer is ${response.body.length} bytes`);
      assert.equal(response.headers['x-mec-site'], 'edge');
    });
  }

  it('a malformed request line → 400 JSON and the connection closes', async () => {
    const response = await rawRequest(svc.port, ['THIS IS NOT HTTP\r\n\r\n'], { timeoutMs: 5000 });
    assert.equal(response.status, 400);
    assert.equal(JSON.parse(response.body).error.code, 'bad_request');
    assert.equal(response.headers['x-mec-site'], 'edge');
    assert.equal(response.headers['server-timing'], 'app;dur=0');
  });

  it('oversized headers → 431 JSON', async () => {
    const response = await rawRequest(svc.port, [
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]);
    assert.equal(response.status, 431);
    assert.equal(JSON.parse(response.body).error.code, 'headers_too_large');
  });

  it('slowloris: headers trickled in but never finished → 408 and closed within the bound', async () => {
    const chunks = [
      'GET /healthz HTTP/1.1\r\n',
      'Host: x\r\n',
      ...Array.from({ length: 20 }, (_, i) => `X-${i}: y\r\n`),
    ];
    const response = await rawRequest(svc.port, chunks, { gapMs: 200, timeoutMs: 8000 });
    assert.equal(response.status, 408);
    assert.equal(JSON.parse(response.body).error.code, 'request_timeout');
    // Bound: closed well before the client would have finished (20 × 200 ms) and before our 8 s give-up.
    assert.ok(response.elapsedMs < 7000, `closed after ${response.elapsedMs} ms`);
  });

  it('half-sent body (Content-Length promised, never delivered) → 408 and closed within the bound', async () => {
    const head = bodyRequest('Content-Length: 1000');
    const response = await rawRequest(svc.port, [head, 'only a little'], { timeoutMs: 8000 });
    assert.equal(response.status, 408);
    assert.equal(JSON.parse(response.body).error.code, 'request_timeout');
    assert.ok(response.elapsedMs < 7000, `closed after ${response.elapsedMs} ms`);
  });

  it('the service still answers after all of the above', async () => {
    const response = await fetch(`${svc.url}/healthz`);
    assert.equal(response.status, 200);
  });
});

describe('skeleton draining in-process', () => {
  it('readiness turns false, the in-flight request completes, new connections are refused', async () => {
    const svc = await startTestService(testService, { SHUTDOWN_TIMEOUT_SECONDS: '10' });
    const started = waitForSlowRequest();
    const inflight = fetch(`${svc.url}/api/v1/slow`);
    await started;
    const stopped = svc.stop();
    assert.equal(svc.service.state.ready, false);
    assert.equal(svc.service.state.draining, true);
    await assert.rejects(fetch(`${svc.url}/healthz`), 'the listener is closed: new connections are refused');
    releaseSlow();
    const response = await inflight;
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('connection'), 'close');
    assert.deepEqual(await response.json(), { done: true });
    assert.deepEqual(await stopped, { forced: false });
  });

  it('a request still running at SHUTDOWN_TIMEOUT_SECONDS is cut and stop() resolves as forced', async () => {
    const svc = await startTestService(testService, { SHUTDOWN_TIMEOUT_SECONDS: '0.3' });
    const started = waitForSlowRequest();
    const inflight = fetch(`${svc.url}/api/v1/slow`).then(
      () => 'answered',
      () => 'cut',
    );
    await started;
    assert.deepEqual(await svc.stop(), { forced: true });
    assert.equal(await inflight, 'cut');
    releaseSlow();
  });

  it('/readyz is 503 before listening', async () => {
    const { createApp, configFor } = await import('./app.ts');
    const app = createApp(testService, configFor(testService));
    assert.equal(app.state.ready, false);
  });
});

describe('structured request logs', () => {
  async function logsFor(accessLog: string, paths: string[]): Promise<Record<string, unknown>[]> {
    const { createApp, configFor } = await import('./app.ts');
    const { createLogger } = await import('./logger.ts');
    const { start } = await import('./server.ts');
    const lines: string[] = [];
    const config = configFor(testService, { ACCESS_LOG: accessLog });
    const app = createApp(testService, config, {
      log: createLogger('debug', { site: 'edge' }, (l) => lines.push(l)),
    });
    const running = await start(app, { port: 0, host: '127.0.0.1' });
    for (const path of paths) {
      await (
        await fetch(`${running.url}${path}`, { headers: { 'x-request-id': `id-${path.length}` } })
      ).arrayBuffer();
    }
    await running.stop();
    return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
  }

  it('ACCESS_LOG=errors (default) logs failed requests as JSON with the request id, not successful ones', async () => {
    const logs = await logsFor('errors', ['/healthz', '/api/v1/nope']);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]?.level, 'warn');
    assert.equal(logs[0]?.status, 404);
    assert.equal(logs[0]?.route, 'unmatched');
    assert.equal(logs[0]?.requestId, 'id-12');
    assert.equal(logs[0]?.site, 'edge');
    assert.match(String(logs[0]?.time), /^\d{4}-\d\d-\d\dT/);
  });

  it('ACCESS_LOG=all logs every request; none logs none', async () => {
    const all = await logsFor('all', ['/healthz', '/api/v1/nope']);
    assert.deepEqual(
      all.map((l) => [l.route, l.status, l.requestId]),
      [
        ['/healthz', 200, 'id-8'],
        ['unmatched', 404, 'id-12'],
      ],
    );
    assert.equal((await logsFor('none', ['/healthz', '/api/v1/nope'])).length, 0);
  });
});
