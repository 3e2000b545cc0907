// The control side must not disturb the data side: the admin API shares the proxy's event loop with the traffic
// it delays. Against the proxy as a process (main.ts), this measures echo round trips through it on one kept
// connection, first alone, then while hostile and merely large control requests arrive (malformed URLs, a
// 16 MiB body, YAML whose aliases expand, thousands of links, deep nesting, a slow sender, a burst of PUTs), and
// checks: each is answered with a 4xx JSON error (or its connection closed, for the slow sender), the process
// lives, its memory stays bounded, and the traffic's round trips stay near what they were alone.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../test/support/ports.ts';

const LATENCY_MS = 2;
const profile = (links: string) =>
  `apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: hostile\nlinks:\n${links}`;
const GOOD = profile(`  ue-edge: { latency: ${LATENCY_MS}ms }\n  edge-cloud: { latency: 1ms }\n`);

/** The hostile requests: what each sends, and what must come back. */
function hostile(): Array<{ what: string; method: string; path: string; body?: string | Buffer }> {
  const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++)
    laughs.push(
      `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
        .fill(`*${String.fromCharCode(96 + i)}`)
        .join(',')}]`,
    );
  const sites = Array.from({ length: 1500 }, (_, i) => `s${i}`);
  const manyLinks = profile(sites.map((s, i) => `  ${s}-s${i + 1}: { latency: 1ms }\n`).join(''));
  return [
    { what: 'a malformed percent-escape', method: 'GET', path: '/api/v1/faults/%E0%A4%A' },
    { what: 'a path of 6,000 characters', method: 'GET', path: `/${'a'.repeat(6000)}` },
    {
      what: 'a 16 MiB profile',
      method: 'PUT',
      path: '/api/v1/profile',
      body: Buffer.alloc(16 * 1024 * 1024, 97),
    },
    {
      what: 'YAML whose aliases expand a billion times',
      method: 'PUT',
      path: '/api/v1/profile',
      body: laughs.join('\n'),
    },
    {
      what: 'a profile with 1,500 links',
      method: 'PUT',
      path: '/api/v1/profile',
      body: manyLinks.slice(0, 60_000),
    },
    {
      what: 'JSON nested 20,000 deep',
      method: 'PUT',
      path: '/api/v1/profile',
      body: `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
    },
    {
      what: 'a fault body that is not JSON',
      method: 'PUT',
      path: '/api/v1/faults/ue-edge',
      body: '{"type":',
    },
    { what: 'a method the route has not', method: 'DELETE', path: '/api/v1/profile' },
  ];
}

/** The hostile client (this file run as a script with MEC_HOSTILE_ADMIN_PORT): one line per request's outcome. */
async function hammerAdmin(admin: number): Promise<void> {
  const answers: string[] = [];
  // A slow sender on the admin port, trickling a header for longer than the admin's header bound.
  const slow = net.connect({ port: admin, host: '127.0.0.1' });
  slow.on('error', () => {});
  slow.write('PUT /api/v1/profile HTTP/1.1\r\nhost: x\r\n');
  const trickle = setInterval(() => slow.write('x-slow: 1\r\n'), 500);
  const slowClosed = new Promise<void>((r) => slow.once('close', () => r()));
  for (const h of hostile()) {
    const res = await fetch(`http://127.0.0.1:${admin}${h.path}`, {
      method: h.method,
      ...(h.body === undefined ? {} : { body: h.body }),
    }).catch((err: Error) => err);
    if (res instanceof Error) {
      answers.push(`${h.what}: no answer (${res.message})`);
      continue;
    }
    const type = res.headers.get('content-type') ?? '';
    const text = await res.text();
    const ok = res.status >= 400 && res.status < 500 && type.startsWith('application/json');
    answers.push(
      `${h.what}: ${res.status} ${ok ? 'json' : `${type} ${text.slice(0, 80)}`} (${text.length} B)`,
    );
  }
  // A burst of valid PUTs at once: each applied or told to retry (429), none refused as invalid.
  const burst = await Promise.all(
    Array.from({ length: 12 }, () =>
      fetch(`http://127.0.0.1:${admin}/api/v1/profile`, { method: 'PUT', body: GOOD }).then(async (r) =>
        r.status === 200 || r.status === 429
          ? String(r.status)
          : `${r.status} ${(await r.text()).slice(0, 200)}`,
      ),
    ),
  );
  answers.push(`a burst of 12 PUTs: ${[...new Set(burst)].sort().join(', ').replace(/\n/g, ' ')}`);
  await Promise.race([slowClosed, new Promise((r) => setTimeout(r, 15_000))]);
  clearInterval(trickle);
  answers.push(`a slow sender: ${slow.destroyed ? 'closed' : 'still open'}`);
  slow.destroy();
  process.stdout.write(`${answers.join('\n')}\n`);
}

if (process.env.MEC_HOSTILE_ADMIN_PORT) {
  await hammerAdmin(Number(process.env.MEC_HOSTILE_ADMIN_PORT));
  process.exit(0);
}

const rss = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

describe('the proxy under hostile control requests', { timeout: 120_000 }, () => {
  let child: ChildProcess;
  let echo: net.Server;
  let port: number;
  let admin: number;
  let conn: net.Socket;
  before(async () => {
    echo = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    [port = 0, admin = 0] = await freePorts(2);
    child = spawn(process.execPath, [fileURLToPath(new URL('./main.ts', import.meta.url))], {
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        ADMIN_PORT: String(admin),
        ROUTES: `${port}=ue->edge=127.0.0.1:${(echo.address() as net.AddressInfo).port}`,
        LOG_LEVEL: 'error',
      },
      stdio: 'ignore',
    });
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${admin}/api/v1/profile`, { method: 'PUT', body: GOOD });
        if (r.status === 200) break;
      } catch (err) {
        if (i > 200) throw err;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    conn = net.connect({ port, host: '127.0.0.1', noDelay: true });
    await new Promise((r) => conn.once('connect', r));
  });
  after(async () => {
    conn?.destroy();
    child?.kill('SIGKILL');
    await new Promise<void>((r) => echo.close(() => r()));
  });

  /** Echo round trips on the kept connection, one every 5 ms, until `until` settles. */
  async function echoes(until: Promise<unknown>): Promise<number[]> {
    let done = false;
    void until.finally(() => {
      done = true;
    });
    const out: number[] = [];
    while (!done || out.length < 50) {
      const t0 = performance.now();
      await new Promise<void>((r) => {
        conn.once('data', () => r());
        conn.write('x');
      });
      out.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    return out.sort((a, b) => a - b);
  }
  const p = (xs: number[], q: number) => xs[Math.round(q * (xs.length - 1))] as number;

  it('answers each with a 4xx JSON error, lives, stays bounded in memory, and the traffic keeps its round trip', async (t) => {
    const pid = child.pid as number;
    const alone = await echoes(new Promise((r) => setTimeout(r, 1500)));
    const rssBefore = rss(pid, 'VmRSS');
    // The hostile client is a process of its own, so its work (a 16 MiB body, a billion laughs) cannot stall
    // the measuring loop here and be blamed on the proxy.
    const client = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      env: { ...process.env, MEC_HOSTILE_ADMIN_PORT: String(admin) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    client.stdout?.on('data', (d) => {
      out += d;
    });
    const hammer = new Promise<void>((r) => client.on('exit', () => r()));
    const during = await echoes(hammer);
    await hammer;
    const answers = out.trim().split('\n');
    const peak = rss(pid, 'VmHWM');
    t.diagnostic(answers.join('\n'));
    t.diagnostic(
      `echo round trips alone p50/p99/max ${p(alone, 0.5).toFixed(2)}/${p(alone, 0.99).toFixed(2)}/${p(alone, 1).toFixed(2)} ms, ` +
        `during ${p(during, 0.5).toFixed(2)}/${p(during, 0.99).toFixed(2)}/${p(during, 1).toFixed(2)} ms (${during.length}); ` +
        `memory ${rssBefore.toFixed(0)} MB before, peak ${peak.toFixed(0)} MB`,
    );
    assert.equal(child.exitCode, null, 'the proxy exited');
    for (const a of answers.filter((x) => !x.startsWith('a burst') && !x.startsWith('a slow')))
      assert.match(a, /: 4\d\d json /, a);
    assert.match(answers.find((a) => a.startsWith('a burst')) ?? '', /: (200|429)(, (200|429))*$/);
    assert.match(answers.find((a) => a.startsWith('a slow')) ?? '', /closed$/);
    // Bounded: the profile worker's heap is capped at 64 MB; nothing else may grow with a request's size.
    assert.ok(peak - rssBefore < 160, `memory peaked ${(peak - rssBefore).toFixed(0)} MB above where it was`);
    // The traffic beside it: its median within a millisecond of what it was alone, and no stall of the kind a
    // parse on the event loop makes (hundreds of milliseconds) beyond what the host itself showed alone.
    assert.ok(p(during, 0.5) <= p(alone, 0.5) + 1, `median ${p(during, 0.5)} ms, alone ${p(alone, 0.5)} ms`);
    assert.ok(
      p(during, 1) <= Math.max(2 * p(alone, 1), p(alone, 0.99) + 50),
      `worst ${p(during, 1)} ms, alone ${p(alone, 1)} ms`,
    );
  });
});
