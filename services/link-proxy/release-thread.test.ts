// TIMER_MODE=writer: the ring that holds handed-over chunks (pure), and the release thread through real
// sockets on loopback: it writes the chunks itself, gives back what it holds when a black hole starts, and
// never writes to a socket after it is closed. proxy.test.ts runs the whole proxy suite in this mode (the
// default); there the bulk upload to a stalled reader makes the thread hand back what a full socket will not
// take.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { parseProxyConfig } from './config.ts';
import { seededRng } from './jitter.ts';
import { allocateBuffers, JOB_SLOTS, readJob, views, writeJob } from './release-layout.ts';
import { ByteRing, ReleaseThread } from './release-thread.ts';
import { type LinkProxyService, startLinkProxy } from './service.ts';

describe('job slots', () => {
  it('a job reads back as written, in the slot of its number (slots are reused past JOB_SLOTS)', () => {
    const v = views(allocateBuffers());
    const job = (seq: number) => ({
      seq,
      dueNs: 1.5e12 + seq * 1000.25,
      fd: 20 + (seq % 7),
      pipe: seq % 300,
      off: (seq * 64) % 1_000_000,
      len: 1 + (seq % 65_536),
      ahead: seq % 2 === 0,
    });
    for (const seq of [0, 1, JOB_SLOTS - 1, JOB_SLOTS, 3 * JOB_SLOTS + 5]) {
      writeJob(v, job(seq));
      assert.deepEqual(readJob(v, seq), job(seq));
    }
  });
});

describe('byte ring', () => {
  it('never hands out bytes that are still in use, reuses them once everything older is back', () => {
    const rng = seededRng(7);
    const ring = new ByteRing(1000);
    const live = new Map<number, [number, number]>();
    let refused = 0;
    for (let step = 0; step < 20_000; step++) {
      if (rng() < 0.55) {
        const len = 1 + Math.floor(rng() * 300);
        const got = ring.alloc(len);
        if (!got) {
          refused++;
          continue;
        }
        const [s, e] = [got.offset, got.offset + len];
        assert.ok(s >= 0 && e <= 1000, `in bounds: ${s}-${e}`);
        for (const [ls, le] of live.values()) assert.ok(e <= ls || s >= le, `${s}-${e} overlaps ${ls}-${le}`);
        live.set(got.id, [s, e]);
      } else if (live.size > 0) {
        // Taken back in any order (chunks of a short link are released before older ones of a long link).
        const ids = [...live.keys()];
        const id = ids[Math.floor(rng() * ids.length)] as number;
        ring.free(id);
        live.delete(id);
      }
    }
    assert.ok(refused > 0, 'the ring filled up at times (the test exercised "full")');
    for (const id of live.keys()) ring.free(id);
    assert.equal(ring.used, 0);
    assert.equal(ring.alloc(1000)?.offset, 0, 'all of it free again');
  });

  it('refuses what cannot fit, and an empty ring starts again at 0', () => {
    const ring = new ByteRing(100);
    assert.equal(ring.alloc(101), undefined);
    assert.equal(ring.alloc(0), undefined);
    const a = ring.alloc(60);
    assert.equal(a?.offset, 0);
    assert.equal(ring.alloc(60), undefined, 'only 40 left at the end, and nothing free before the oldest');
    const b = ring.alloc(30);
    assert.equal(b?.offset, 60);
    ring.free(a?.id as number);
    // [0, 60) is free now, [60, 90) in use: 30 at the start fits (strictly before the oldest), 70 does not.
    assert.equal(ring.alloc(70), undefined);
    assert.equal(ring.alloc(30)?.offset, 0);
    ring.free(b?.id as number);
  });
});

describe('release thread lifecycle', () => {
  it('reports a thread that dies, once, and not one that is closed', async () => {
    const dying = new ReleaseThread();
    const failures: Error[] = [];
    dying.onFailure = (err) => failures.push(err);
    // A thread that dies on its own (a bug, an out-of-memory worker): terminated behind the owner's back.
    await (dying as unknown as { worker: Worker }).worker.terminate();
    await sleep(20);
    assert.equal(failures.length, 1);
    assert.match(failures[0]?.message ?? '', /ended unexpectedly/);

    const closed = new ReleaseThread();
    let reported = false;
    closed.onFailure = () => {
      reported = true;
    };
    await closed.close();
    await sleep(20);
    assert.equal(reported, false, 'close() is not a failure');
  });
});

const MS = 1e6;
const now = () => Number(process.hrtime.bigint());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** A connection through the proxy whose emulated handshake is over (a first round trip done). */
async function warm(port: number): Promise<net.Socket> {
  const s = await connect(port);
  s.write('hello');
  await new Promise((r) => s.once('data', r));
  return s;
}

async function startWriter(latency: string, upstreamPort: number): Promise<LinkProxyService> {
  const parsed = parseProxyConfig(
    {
      HOST: '127.0.0.1',
      ADMIN_PORT: '0',
      PROFILE_POLL_SECONDS: '0',
      TIMER_MODE: 'writer',
      ROUTES: `0=ue->edge=127.0.0.1:${upstreamPort}`,
    },
    [],
  );
  assert.ok(parsed.ok);
  const svc = await startLinkProxy({ ...parsed.config, profile: '5g-mec' }, () => {});
  const set = await fetch(`http://127.0.0.1:${svc.adminPort()}/api/v1/profile`, {
    method: 'PUT',
    body: `apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: writer-test\nlinks:\n  ue-edge: { latency: ${latency} }\n  edge-cloud: { latency: 1ms }\n`,
  });
  assert.equal(set.status, 200);
  return svc;
}

async function outcomes(
  svc: LinkProxyService,
): Promise<{ written: number; handed_back: number; failed: number }> {
  const text = await (await fetch(`http://127.0.0.1:${svc.adminPort()}/metrics`)).text();
  const out = { written: 0, handed_back: 0, failed: 0 };
  for (const m of text.matchAll(/^mec_link_proxy_thread_releases_total\{outcome="(\w+)"\} (\S+)$/gm))
    out[m[1] as keyof typeof out] = Number(m[2]);
  return out;
}

describe('release thread through real sockets (TIMER_MODE=writer)', () => {
  let echo: net.Server;
  let echoPort: number;
  before(async () => {
    echo = net.createServer({ noDelay: true }, (s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    echoPort = await listen(echo);
  });
  after(() => new Promise<void>((r) => echo.close(() => r())));

  it('writes every delayed chunk itself, each way, none early', async () => {
    const svc = await startWriter('5ms', echoPort);
    try {
      const s = await connect(svc.routePorts()[0] as number);
      const rounds = 40;
      for (let i = 0; i < rounds; i++) {
        const t0 = now();
        s.write(Buffer.alloc(64, i));
        const got: Buffer = await new Promise((r) => s.once('data', r));
        assert.equal(got.length, 64);
        assert.ok(got.every((b) => b === i));
        // Both ways, minus the 50 µs the release may run early (TIMER_MAX_ADVANCE_US).
        assert.ok((now() - t0) / MS >= 10 - 0.1, `round trip ${(now() - t0) / MS} ms`);
      }
      s.destroy();
      const o = await outcomes(svc);
      // Chunks of the first exchange ride the emulated handshake, the rest one each way.
      assert.equal(o.written, 2 * rounds, JSON.stringify(o));
      assert.equal(o.handed_back, 0);
    } finally {
      await svc.stop();
    }
  });

  it('a black hole takes back what the thread holds; cleared, it arrives', async () => {
    const svc = await startWriter('150ms', echoPort);
    try {
      const s = await warm(svc.routePorts()[0] as number);
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      s.write('first');
      await sleep(100); // on its way out: handed to the thread, due at 150 ms
      const put = await fetch(`http://127.0.0.1:${svc.adminPort()}/api/v1/faults/ue-edge`, {
        method: 'PUT',
        body: JSON.stringify({ type: 'timeout' }),
      });
      assert.equal(put.status, 200);
      await sleep(600);
      assert.equal(Buffer.concat(got).length, 0, 'nothing crosses a black hole');
      assert.ok((await outcomes(svc)).handed_back >= 1);
      await fetch(`http://127.0.0.1:${svc.adminPort()}/api/v1/faults/ue-edge`, { method: 'DELETE' });
      for (let i = 0; i < 100 && Buffer.concat(got).toString() !== 'first'; i++) await sleep(20);
      assert.equal(Buffer.concat(got).toString(), 'first');
      s.destroy();
    } finally {
      await svc.stop();
    }
  });

  it('never writes to a socket after it closed: a new connection on its descriptor gets nothing', async () => {
    const svc = await startWriter('100ms', echoPort);
    try {
      const port = svc.routePorts()[0] as number;
      const a = await warm(port);
      a.on('error', () => {});
      a.write('secret');
      // 'secret' reaches the echo at ~100 ms and is handed to the thread for the client, due at ~200 ms.
      await sleep(150);
      a.resetAndDestroy();
      await sleep(5);
      // The proxy's socket for A is gone; B's likely takes its descriptor number.
      const b = await connect(port);
      const got: Buffer[] = [];
      b.on('data', (d: Buffer) => got.push(d));
      await sleep(300);
      assert.equal(Buffer.concat(got).toString(), '', "another connection's bytes");
      const o = await outcomes(svc);
      assert.ok(o.handed_back >= 1, `the thread gave A's chunk back: ${JSON.stringify(o)}`);
      b.destroy();
    } finally {
      await svc.stop();
    }
  });
});
