// The control side must not disturb the data side: the admin API shares the proxy's event loop with the traffic
// it delays. A real proxy process (main.ts) carries echo round trips, one after another, while hostile or merely
// large control requests arrive: each is answered with a 4xx JSON error, quickly and briefly; the round trips
// beside them keep their time; the process's peak memory stays bounded; a connection that never sends a byte is
// closed. The round trips are printed (median, p99, worst) for the baseline and the hostile phase.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { rawRequest } from '../skeleton/testing.ts';
import { ADMIN_LIMITS, MAX_PROFILE_BYTES } from './admin.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TMP = mkdtempSync(join(tmpdir(), 'mec-test-admin-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const PROFILE = `apiVersion: mec-testbed.dev/v1alpha1
kind: LinkProfile
name: steady
links:
  ue-edge: { latency: 1ms }
  edge-cloud: { latency: 1ms }
`;

/** Peak resident memory of a process, in bytes (VmHWM). */
function peakRss(pid: number): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** CPU seconds the process's main thread (its event loop) has used; /proc counts in clock ticks of 1/100 s. */
function loopCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Round trips of 64 bytes through the proxy, one after another, until stop() (milliseconds each). */
function echoLoop(port: number) {
  const rtts: number[] = [];
  let running = true;
  const done = new Promise<void>((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const payload = Buffer.alloc(64, 1);
    let started = 0;
    let got = 0;
    const send = () => {
      if (!running) {
        socket.destroy();
        resolve();
        return;
      }
      got = 0;
      started = performance.now();
      socket.write(payload);
    };
    socket.on('connect', send);
    socket.on('data', (d) => {
      got += d.length;
      if (got < payload.length) return;
      rtts.push(performance.now() - started);
      send();
    });
    socket.on('error', reject);
  });
  return {
    rtts,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** The proxy's longest event-loop delay since the previous scrape, in seconds. */
async function lagMax(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1]);
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

async function http(port: number, method: string, path: string, body?: string | Buffer, type?: string) {
  const t = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
    ...(type ? { headers: { 'content-type': type } } : {}),
  });
  return { status: res.status, body: await res.text(), ms: performance.now() - t };
}

async function raw(port: number, request: string | Buffer): Promise<Answer> {
  const r = await rawRequest(port, [request], { timeoutMs: 15_000 });
  return { status: r.status, body: r.body, ms: r.elapsedMs };
}

/** A request declaring a large body (fetch fails with EPIPE when the server refuses it before reading it). */
function rawWithBody(port: number, requestLine: string, body: Buffer): Promise<Answer> {
  const head = `${requestLine} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`;
  // Its first 64 KiB only: once the server has refused and closed, the kernel resets a connection that still
  // has unread data, and the reset can overtake the answer.
  return raw(port, Buffer.concat([Buffer.from(head), body.subarray(0, 65_536)]));
}

/** An alias bomb: nine levels of ten references each, 10^9 strings if expanded. */
function aliasBomb(): string {
  let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 9; i++)
    text += `a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(', ')}]\n`;
  return `${text}links: *a8\n`;
}

/** A profile of `n` links, as long as the body limit allows. */
function manyLinks(): string {
  let text = 'apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: many\nlinks:\n';
  for (let i = 0; text.length < MAX_PROFILE_BYTES - 64; i++) text += `  s${i}-t${i}: { latency: 1ms }\n`;
  return text;
}

describe('the admin API under hostile control requests, with traffic beside it', { timeout: 120_000 }, () => {
  let child: ChildProcess;
  let echo: net.Server;
  let admin = 0;
  let route = 0;

  before(async () => {
    echo = net.createServer({ noDelay: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const file = join(TMP, 'profile.yaml');
    writeFileSync(file, PROFILE);
    child = spawn(process.execPath, ['services/link-proxy/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: '0',
        PROFILE: file,
        ROUTES: `0=ue->edge=127.0.0.1:${(echo.address() as net.AddressInfo).port}`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`the proxy did not start:\n${text}`)), 20_000);
      child.stdout?.on('data', (d: Buffer) => {
        text += d.toString();
        const started = /"msg":"link proxy started".*?"admin":"[^"]*:(\d+)".*?"routes":\["[^:]*:(\d+) /.exec(
          text,
        );
        if (started) {
          clearTimeout(timer);
          admin = Number(started[1]);
          route = Number(started[2]);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`the proxy exited (${code}):\n${text}`)));
    });
    child.stdout?.resume();
  });

  after(async () => {
    child?.kill('SIGTERM');
    await new Promise((r) => echo?.close(r));
  });

  it('answers each with a 4xx JSON error, quickly, while round trips keep their time and memory stays bounded', async (t) => {
    // A connection that never sends a byte, opened first: it must be closed within the stated bound.
    const idle = rawRequest(admin, [], { timeoutMs: (ADMIN_LIMITS.idleTimeoutSeconds + 10) * 1000 });

    // prom-client's event-loop lag gauges cover the time since the last scrape: scrape to start each phase.
    await lagMax(admin);
    const pid = child.pid as number;
    let cpu = loopCpuSeconds(pid);
    let clock = performance.now();
    const baseline = echoLoop(route);
    await new Promise((r) => setTimeout(r, 2000));
    await baseline.stop();
    const baselineLag = await lagMax(admin);
    const baselineCpuRate = (loopCpuSeconds(pid) - cpu) / ((performance.now() - clock) / 1000);
    const rssBefore = peakRss(child.pid as number);

    const traffic = echoLoop(route);
    const big = Buffer.alloc(8 * 1024 * 1024, 'a');
    const hostile: Array<[string, () => Promise<Answer>, number]> = [
      ['an 8 MiB profile', () => rawWithBody(admin, 'PUT /api/v1/profile', big), 413],
      [
        'a chunked profile past the limit',
        () =>
          raw(
            admin,
            `PUT /api/v1/profile HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${`10000\r\n${'a'.repeat(0x10000)}\r\n`.repeat(4)}0\r\n\r\n`,
          ),
        413,
      ],
      [
        'YAML aliases that expand to 10^9 nodes',
        () => http(admin, 'PUT', '/api/v1/profile', aliasBomb()),
        400,
      ],
      ['a profile of thousands of links', () => http(admin, 'PUT', '/api/v1/profile', manyLinks()), 400],
      [
        'JSON nested 30,000 deep',
        () => http(admin, 'PUT', '/api/v1/profile', `${'['.repeat(30_000)}${']'.repeat(30_000)}`),
        400,
      ],
      ['a profile as an image', () => http(admin, 'PUT', '/api/v1/profile', 'x', 'image/png'), 415],
      [
        'a compressed profile',
        () =>
          raw(
            admin,
            'PUT /api/v1/profile HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab',
          ),
        415,
      ],
      [
        'two presets at once',
        () => http(admin, 'PUT', '/api/v1/profile?preset=5g-mec&preset=far-cloud'),
        400,
      ],
      ['bad percent-encoding in a link', () => http(admin, 'DELETE', '/api/v1/faults/%E0%A4%A'), 400],
      [
        'a request target that is no URL',
        () => raw(admin, 'GET http://[::1 HTTP/1.1\r\nHost: x\r\n\r\n'),
        400,
      ],
      ['a long unknown path', () => http(admin, 'GET', `/${'x'.repeat(7000)}`), 404],
      [
        'a long unknown link',
        () => http(admin, 'PUT', `/api/v1/faults/${'y'.repeat(7000)}`, '{"type":"reset"}'),
        404,
      ],
      [
        'a fault body of 1 MiB',
        () => rawWithBody(admin, 'PUT /api/v1/faults/ue-edge', Buffer.alloc(1 << 20, 32)),
        413,
      ],
      ['a fault that is not JSON', () => http(admin, 'PUT', '/api/v1/faults/ue-edge', '{"type":'), 400],
      ['an unknown method on a route', () => http(admin, 'PATCH', '/api/v1/profile'), 405],
      ['bytes that are not HTTP', () => raw(admin, Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])), 400],
      [
        'headers of 64 KiB',
        () => raw(admin, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: ${'a'.repeat(65_536)}\r\n\r\n`),
        431,
      ],
    ];
    // One at a time, with the proxy's longest event-loop delay read after each: none may block the loop.
    const lags: number[] = [];
    await lagMax(admin);
    cpu = loopCpuSeconds(pid);
    clock = performance.now();
    for (const [, send] of hostile) {
      await send();
      await new Promise((r) => setTimeout(r, 100));
      lags.push(await lagMax(admin));
    }
    await traffic.stop();
    // The event loop's CPU beyond what the traffic alone cost it at the baseline's rate.
    const hostileCpu = loopCpuSeconds(pid) - cpu - baselineCpuRate * ((performance.now() - clock) / 1000);
    const hostileLag = Math.max(...lags);
    const worstRequest = hostile[lags.indexOf(hostileLag)]?.[0];
    // Then all at once, as a script or a fuzzer would send them: each still gets its answer.
    const answers = await Promise.all(hostile.map(([, send]) => send()));
    const rssAfter = peakRss(child.pid as number);

    for (const [i, [name, , status]] of hostile.entries()) {
      const answer = answers[i] as Answer;
      t.diagnostic(
        `${name}: ${answer.status} after ${Math.round(answer.ms)} ms, ${answer.body.length} bytes`,
      );
      assert.equal(answer.status, status, `${name}: ${answer.body.slice(0, 300)}`);
      const body = JSON.parse(answer.body) as { error?: { code?: string; message?: string } };
      assert.ok(body.error?.code && body.error.message, `${name}: a JSON error`);
      assert.ok(answer.body.length < 16 * 1024, `${name}: the answer is ${answer.body.length} bytes`);
      assert.ok(answer.ms < 5000, `${name}: answered after ${Math.round(answer.ms)} ms`);
    }
    assert.equal(child.exitCode, null, 'the proxy is alive');
    assert.equal((await http(admin, 'GET', '/api/v1/profile')).status, 200);
    assert.match((await http(admin, 'GET', '/api/v1/profile')).body, /"name": "steady"/);

    const a = [...baseline.rtts].sort((x, y) => x - y);
    const b = [...traffic.rtts].sort((x, y) => x - y);
    const figures = (s: number[]) =>
      `${s.length} round trips, median ${quantile(s, 0.5).toFixed(2)} ms, p99 ${quantile(s, 0.99).toFixed(2)} ms, worst ${(s.at(-1) as number).toFixed(2)} ms`;
    t.diagnostic(`baseline: ${figures(a)}`);
    t.diagnostic(`hostile, one at a time: ${figures(b)}`);
    t.diagnostic(
      `the proxy's event loop: ${(baselineCpuRate * 100).toFixed(0)}% of a CPU for the traffic alone, ${(hostileCpu * 1000).toFixed(0)} ms more for all ${hostile.length} hostile requests`,
    );
    t.diagnostic(
      `longest event-loop stall of the proxy: ${(baselineLag * 1000).toFixed(1)} ms baseline, ${(hostileLag * 1000).toFixed(1)} ms at worst around one hostile request (${worstRequest})`,
    );
    t.diagnostic(
      `peak RSS ${(rssBefore / 2 ** 20).toFixed(0)} MiB before, ${(rssAfter / 2 ** 20).toFixed(0)} MiB after`,
    );
    // A parse of the largest accepted profile on the proxy's event loop took it more than a second of CPU. The
    // loop's CPU is what the control requests take from the traffic; its lateness (printed) also counts the
    // time it waited for one of a shared host's CPUs, which no code of the proxy decides.
    assert.ok(b.length > 100, 'traffic kept flowing');
    assert.ok(quantile(b, 0.5) < quantile(a, 0.5) + 10, 'the median round trip kept its time');
    assert.ok(hostileCpu < 0.3, `the hostile requests cost the event loop ${hostileCpu.toFixed(3)} s of CPU`);
    assert.ok(rssAfter - rssBefore < 128 * 2 ** 20, 'peak memory grew by less than 128 MiB');

    const closed = await idle;
    // Closed, or told 408 by node's request timeout when it comes first.
    assert.ok(closed.status === 0 || closed.status === 408, `the idle connection got ${closed.status}`);
    assert.ok(
      closed.elapsedMs >= ADMIN_LIMITS.headersTimeoutSeconds * 1000 - 500 &&
        closed.elapsedMs < (ADMIN_LIMITS.idleTimeoutSeconds + 5) * 1000,
      `the idle connection was closed after ${closed.elapsedMs} ms`,
    );
  });
});
