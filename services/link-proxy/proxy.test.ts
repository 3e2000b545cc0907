// The proxy through real sockets on loopback. Timing assertions are one-sided where the design makes them
// exact (a delayed byte can never arrive before its delay) and generous on the other side (a noisy shared
// machine); precision is measured by bench/link-fidelity.ts, not asserted here.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProxyConfig } from './config.ts';
import { type LinkProxyService, startLinkProxy } from './service.ts';

// Profile files of this file's tests, removed when it ends.
const TMP = mkdtempSync(join(tmpdir(), 'mec-test-proxy-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const MS = 1e6;
const now = () => Number(process.hrtime.bigint());
const SLACK_MS = 60; // generous upper slack for a loaded 2-core machine

function profileYaml(name: string, ueEdge: string, edgeCloud = '{ latency: 5ms }'): string {
  return `apiVersion: mec-testbed.dev/v1alpha1
kind: LinkProfile
name: ${name}
links:
  ue-edge: ${ueEdge}
  edge-cloud: ${edgeCloud}
`;
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** An echo server that records when each connection was accepted. */
async function echoServer() {
  const accepted: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (s) => {
    accepted.push(now());
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.pipe(s);
  });
  const port = await listen(server);
  return {
    port,
    accepted,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `bytes` and waits until as many come back; returns the round trip in ms. */
function roundTrip(s: net.Socket, bytes = 16): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    let got = 0;
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= bytes) {
        s.off('data', onData);
        s.off('error', reject);
        resolve((now() - t0) / MS);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(Buffer.alloc(bytes, 120));
  });
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary fields of the admin API's JSON
type Json = Record<string, any>;

async function admin(service: LinkProxyService, method: string, path: string, body?: string) {
  const res = await fetch(`http://127.0.0.1:${service.adminPort()}${path}`, {
    method,
    ...(body === undefined ? {} : { body }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function start(yaml: string, routes: string[], env: Record<string, string> = {}, file?: string) {
  const path = file ?? join(mkdtempSync(join(TMP, 'profile-')), 'profile.yaml');
  writeFileSync(path, yaml);
  const parsed = parseProxyConfig(
    { HOST: '127.0.0.1', ADMIN_PORT: '0', PROFILE: path, ROUTES: routes.join(','), ...env },
    [],
  );
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
  return startLinkProxy(parsed.config, () => {});
}

describe('link proxy through real sockets', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let svc: LinkProxyService;
  let edgePort: number;
  let cloudPort: number;
  before(async () => {
    echo = await echoServer();
    svc = await start(profileYaml('fixed', '{ latency: 10ms }'), [
      `0=ue->edge=127.0.0.1:${echo.port}`,
      `0=ue->cloud=127.0.0.1:${echo.port}`,
    ]);
    [edgePort, cloudPort] = svc.routePorts() as [number, number];
  });
  after(async () => {
    await svc.stop();
    await echo.close();
  });

  it('adds the configured delay each way on a reused connection (ue->edge: 2 × 10 ms)', async () => {
    const s = await connect(edgePort);
    await roundTrip(s); // the first pays the handshake too
    const rtts = [];
    for (let i = 0; i < 10; i++) rtts.push(await roundTrip(s));
    s.destroy();
    for (const rtt of rtts) assert.ok(rtt >= 20 && rtt < 20 + SLACK_MS, `rtt ${rtt} ms, configured 20 ms`);
  });

  it('a path adds every link it crosses (ue->cloud: 2 × (10 + 5) ms)', async () => {
    const s = await connect(cloudPort);
    await roundTrip(s);
    const rtt = await roundTrip(s);
    s.destroy();
    assert.ok(rtt >= 30 && rtt < 30 + SLACK_MS, `rtt ${rtt} ms, configured 30 ms`);
  });

  it('delays connection set-up: the server sees the SYN one way later, the first reply takes two round trips', async () => {
    const before = echo.accepted.length;
    const t0 = now();
    const s = await connect(edgePort);
    const first = await roundTrip(s);
    const acceptedAfterMs = ((echo.accepted[before] as number) - t0) / MS;
    const second = await roundTrip(s);
    s.destroy();
    assert.ok(acceptedAfterMs >= 10, `server accepted ${acceptedAfterMs} ms after connect, link is 10 ms`);
    assert.ok(first >= 40 && first < 40 + SLACK_MS, `first reply ${first} ms, want 2 RTT = 40 ms`);
    assert.ok(second >= 20 && second < first, `then one RTT: ${second} ms`);
  });

  it('exports the configured gauges, path included, and bytes, delay and connection counters', async () => {
    const res = await fetch(`http://127.0.0.1:${svc.adminPort()}/metrics`);
    const text = await res.text();
    assert.match(
      text,
      /mec_link_configured_latency_seconds\{link="ue-edge",from="ue",to="edge",backend="proxy"\} 0\.01\n/,
    );
    assert.match(
      text,
      /mec_link_configured_latency_seconds\{link="ue-edge\+edge-cloud",from="ue",to="cloud",backend="proxy"\} 0\.015/,
    );
    assert.match(
      text,
      /mec_link_configured_rate_bytes_per_second\{link="ue-edge",from="ue",to="edge",backend="proxy"\} 0/,
    );
    assert.match(text, /mec_link_profile_info\{profile="fixed",backend="proxy"\} 1/);
    assert.match(text, /mec_link_predicted_round_trip_seconds\{target_site="edge",backend="proxy"\} 0\.02\n/);
    assert.match(text, /mec_link_proxy_bytes_total\{link="ue-edge",from="edge",to="ue"\} \d+/);
    // Late releases by cause: every cause is there from the start, so rate() reads 0 rather than nothing.
    for (const cause of ['timer_thread', 'loop_wake', 'loop_busy'])
      assert.match(text, new RegExp(`mec_link_proxy_late_releases_total\\{cause="${cause}"\\} \\d+`));
    assert.match(
      text,
      /mec_link_proxy_added_delay_seconds_bucket\{le="0\.01",link="ue-edge",from="ue",to="edge"\}/,
    );
    assert.match(
      text,
      /mec_link_proxy_connections_total\{link="ue-edge\+edge-cloud",from="ue",to="cloud"\} \d+/,
    );
    const health = await admin(svc, 'GET', '/healthz');
    assert.equal(health.status, 200);
    const links = await admin(svc, 'GET', '/api/v1/links');
    assert.deepEqual(
      links.body.routes.map((r: { path: string; links: string[] }) => `${r.path}:${r.links.join('+')}`),
      ['ue->edge:ue-edge', 'ue->cloud:ue-edge+edge-cloud'],
    );
  });

  it('changes the profile at run time: the next chunk of an open connection crosses the new link', async () => {
    const s = await connect(edgePort);
    await roundTrip(s);
    const put = await admin(svc, 'PUT', '/api/v1/profile', profileYaml('slower', '{ latency: 40ms }'));
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const rtt = await roundTrip(s);
    assert.ok(rtt >= 80 && rtt < 80 + SLACK_MS, `after the change: ${rtt} ms, configured 80 ms`);
    const back = await admin(svc, 'PUT', '/api/v1/profile', profileYaml('fixed', '{ latency: 10ms }'));
    assert.equal(back.status, 200);
    const again = await roundTrip(s);
    s.destroy();
    assert.ok(again >= 20 && again < 20 + SLACK_MS, `changed back: ${again} ms`);
  });

  it('refuses an invalid profile with every located problem, and keeps the old one in force', async () => {
    const bad = profileYaml('broken', '{ latency: 10, jitter: 5ms, distribution: gauss }');
    const put = await admin(svc, 'PUT', '/api/v1/profile', bad);
    assert.equal(put.status, 400);
    assert.equal(put.body.error.code, 'invalid_profile');
    const paths = put.body.error.problems.map((p: { path: string }) => p.path);
    assert.ok(paths.includes('links.ue-edge.latency'), JSON.stringify(paths));
    assert.ok(paths.includes('links.ue-edge.distribution'), JSON.stringify(paths));
    assert.match(put.body.error.message, /profile in force \(fixed\) is unchanged/);
    const yamlError = await admin(svc, 'PUT', '/api/v1/profile', 'links: [');
    assert.equal(yamlError.status, 400);
    const unknownPreset = await admin(svc, 'PUT', '/api/v1/profile?preset=6g');
    assert.equal(unknownPreset.status, 400);
    const current = await admin(svc, 'GET', '/api/v1/profile');
    assert.equal(current.body.topology.name, 'fixed');
    const s = await connect(edgePort);
    await roundTrip(s);
    const rtt = await roundTrip(s);
    s.destroy();
    assert.ok(rtt >= 20 && rtt < 20 + SLACK_MS, `still the old delay: ${rtt} ms`);
  });

  it('switches to a preset by name', async () => {
    const put = await admin(svc, 'PUT', '/api/v1/profile?preset=wifi-lan-edge');
    assert.equal(put.status, 200);
    assert.equal(put.body.profile, 'wifi-lan-edge');
    const back = await admin(svc, 'PUT', '/api/v1/profile', profileYaml('fixed', '{ latency: 10ms }'));
    assert.equal(back.status, 200);
  });
});

describe('jitter and ordering', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let svc: LinkProxyService;
  before(async () => {
    echo = await echoServer();
    svc = await start(profileYaml('jittery', '{ latency: 10ms, jitter: 5ms, distribution: uniform }'), [
      `0=ue->edge=127.0.0.1:${echo.port}`,
    ]);
  });
  after(async () => {
    await svc.stop();
    await echo.close();
  });

  it('round trips stay within latency ± jitter each way, and do vary', async () => {
    const s = await connect(svc.routePorts()[0] as number);
    await roundTrip(s);
    const rtts: number[] = [];
    for (let i = 0; i < 30; i++) rtts.push(await roundTrip(s));
    s.destroy();
    const lo = Math.min(...rtts);
    const hi = Math.max(...rtts);
    assert.ok(lo >= 10, `min ${lo} ms, below 2 × (10 - 5) ms`);
    assert.ok(hi < 30 + SLACK_MS, `max ${hi} ms`);
    assert.ok(hi - lo > 2, `no spread: ${lo}..${hi} ms`);
  });

  it('keeps the byte order of a connection although the jitter exceeds the gap between chunks', async () => {
    const s = await connect(svc.routePorts()[0] as number);
    const chunks = 300;
    const sent = Buffer.concat(Array.from({ length: chunks }, (_, i) => Buffer.from(`<${i}>`)));
    const received: Buffer[] = [];
    let size = 0;
    const done = new Promise<void>((resolve) =>
      s.on('data', (d: Buffer) => {
        received.push(d);
        size += d.length;
        if (size >= sent.length) resolve();
      }),
    );
    for (let i = 0; i < chunks; i++) {
      s.write(`<${i}>`);
      await new Promise((r) => setImmediate(r)); // separate chunks, ~µs apart, each with its own draw
    }
    await done;
    s.destroy();
    assert.equal(Buffer.concat(received).toString(), sent.toString());
  });
});

describe('bandwidth', () => {
  it('caps a direction at the link rate, shared by the connections on the link', async () => {
    // 8 Mbit/s = 1 MB/s up; two connections send 400 kB each at once: together they need about 0.8 s.
    let received = 0;
    let lastByte = 0;
    const sink = net.createServer((s) => {
      s.on('data', (d) => {
        received += d.length;
        lastByte = now();
      });
      s.on('error', () => {});
    });
    const port = await listen(sink);
    const svc = await start(
      profileYaml('narrow', "{ latency: 1ms, directions: { 'ue->edge': { rate: 8Mbit } } }"),
      [`0=ue->edge=127.0.0.1:${port}`],
    );
    try {
      const [a, b] = await Promise.all([
        connect(svc.routePorts()[0] as number),
        connect(svc.routePorts()[0] as number),
      ]);
      const t0 = now();
      const each = 400_000;
      a.write(Buffer.alloc(each, 1));
      b.write(Buffer.alloc(each, 2));
      while (received < 2 * each) await new Promise((r) => setTimeout(r, 20));
      const seconds = (lastByte - t0) / 1e9;
      a.destroy();
      b.destroy();
      // Lower bound is exact (the bucket starts with one burst of 1514 bytes); upper bound is generous.
      assert.ok(seconds >= (2 * each - 1514) / 1e6, `${seconds} s for 800 kB at 1 MB/s`);
      assert.ok(seconds < 2.5, `${seconds} s`);
    } finally {
      await svc.stop();
      await new Promise<void>((r) => sink.close(() => r()));
    }
  });
});

describe('backpressure', () => {
  // Bounded: without the fix the upload never finishes, and the test times out.
  it('a bulk upload to a reader that stalls for a while completes, every byte in order', {
    timeout: 30_000,
  }, async () => {
    // The reader takes nothing for 1 s, so every buffer on the way fills (the proxy stops reading its client),
    // then reads all: the proxy must start reading again. It used to stay paused for good.
    const total = 24 * 1024 * 1024;
    let received = 0;
    let badAt = -1;
    let reader: net.Socket | undefined;
    let allIn: () => void = () => {};
    const finished = new Promise<void>((r) => {
      allIn = r;
    });
    const slow = net.createServer((s) => {
      reader = s;
      s.pause();
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        for (let i = 0; i < d.length && badAt < 0; i++)
          if (d[i] !== (received + i) % 251) badAt = received + i;
        received += d.length;
        if (received >= total) allIn();
      });
    });
    const port = await listen(slow);
    const svc = await start(profileYaml('bulk', '{ latency: 1ms }'), [`0=ue->edge=127.0.0.1:${port}`]);
    try {
      const c = await connect(svc.routePorts()[0] as number);
      setTimeout(() => reader?.resume(), 1000);
      const block = Buffer.alloc(16 * 1024);
      for (let off = 0; off < total; off += block.length) {
        for (let i = 0; i < block.length; i++) block[i] = (off + i) % 251;
        if (!c.write(Buffer.from(block))) await new Promise((r) => c.once('drain', r));
      }
      await finished;
      c.destroy();
      assert.equal(badAt, -1, `byte ${badAt} out of order`);
      assert.equal(received, total, 'every byte arrived');
    } finally {
      await svc.stop();
      await new Promise<void>((r) => slow.close(() => r()));
    }
  });
});

describe('faults', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let svc: LinkProxyService;
  let port: number;
  let cloudPort: number;
  before(async () => {
    echo = await echoServer();
    svc = await start(profileYaml('faulty', '{ latency: 2ms }', '{ latency: 2ms }'), [
      `0=ue->edge=127.0.0.1:${echo.port}`,
      `0=ue->cloud=127.0.0.1:${echo.port}`,
    ]);
    [port, cloudPort] = svc.routePorts() as [number, number];
  });
  after(async () => {
    await svc.stop();
    await echo.close();
  });

  const closedBy = (s: net.Socket) =>
    new Promise<string>((resolve) => {
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.once('close', () => resolve('closed'));
    });

  it('reset: open connections crossing the link are reset, and new ones too; cleared, traffic flows', async () => {
    const s = await connect(cloudPort); // ue->cloud crosses edge-cloud
    await roundTrip(s);
    const ended = closedBy(s);
    const put = await admin(svc, 'PUT', '/api/v1/faults/edge-cloud', JSON.stringify({ type: 'reset' }));
    assert.equal(put.status, 200);
    assert.equal(await ended, 'ECONNRESET');
    // A new connection is reset right after the accept: during connect() or just after it.
    const fresh = await connect(cloudPort).then(closedBy, (e: NodeJS.ErrnoException) => e.code);
    assert.equal(fresh, 'ECONNRESET');
    // ue->edge does not cross edge-cloud: untouched.
    const other = await connect(port);
    assert.ok((await roundTrip(other)) >= 4);
    other.destroy();
    assert.equal((await admin(svc, 'DELETE', '/api/v1/faults/edge-cloud')).body.cleared, true);
    const ok = await connect(cloudPort);
    assert.ok((await roundTrip(ok)) >= 8);
    ok.destroy();
  });

  it('refuse: new connections are refused until cleared', async () => {
    await admin(svc, 'PUT', '/api/v1/faults/ue-edge', JSON.stringify({ type: 'refuse' }));
    await assert.rejects(connect(port), /ECONNREFUSED/);
    await assert.rejects(connect(cloudPort), /ECONNREFUSED/);
    await admin(svc, 'DELETE', '/api/v1/faults');
    const s = await connect(port);
    assert.ok((await roundTrip(s)) >= 4);
    s.destroy();
  });

  it('timeout: nothing crosses while the black hole lasts; cleared, the held bytes arrive', async () => {
    const s = await connect(port);
    await roundTrip(s);
    await admin(svc, 'PUT', '/api/v1/faults/ue-edge', JSON.stringify({ type: 'timeout' }));
    let replied = false;
    const reply = roundTrip(s).then((rtt) => {
      replied = true;
      return rtt;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(replied, false, 'a reply crossed the black hole');
    await admin(svc, 'DELETE', '/api/v1/faults/ue-edge');
    assert.ok((await reply) >= 300);
    s.destroy();
  });

  it('answers bad fault requests with 4xx and a JSON error', async () => {
    const unknown = await admin(svc, 'PUT', '/api/v1/faults/ue-moon', JSON.stringify({ type: 'reset' }));
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error.message, /links: ue-edge, edge-cloud/);
    const badType = await admin(svc, 'PUT', '/api/v1/faults/ue-edge', JSON.stringify({ type: 'explode' }));
    assert.equal(badType.status, 400);
    assert.equal(badType.body.error.code, 'bad_fault');
  });

  it('a refused upstream dial reaches the client as a reset', async () => {
    const closed = net.createServer();
    const deadPort = await listen(closed);
    await new Promise<void>((r) => closed.close(() => r()));
    const dead = await start(profileYaml('dead', '{ latency: 1ms }'), [`0=ue->edge=127.0.0.1:${deadPort}`]);
    try {
      const s = await connect(dead.routePorts()[0] as number);
      assert.equal(await closedBy(s), 'ECONNRESET');
    } finally {
      await dead.stop();
    }
  });
});

describe('idle connections', () => {
  it('one that never sends a byte gets a FIN after IDLE_TIMEOUT_SECONDS, and is let go of one timeout later; one in use stays', {
    timeout: 15_000,
  }, async () => {
    const echo = await echoServer();
    const svc = await start(profileYaml('idle', '{ latency: 1ms }'), [`0=ue->edge=127.0.0.1:${echo.port}`], {
      IDLE_TIMEOUT_SECONDS: '1',
    });
    try {
      const port = svc.routePorts()[0] as number;
      const t0 = now();
      // Silent, and it keeps its own side open after the proxy's FIN (allowHalfOpen), as a careless peer would.
      const silent = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
      silent.on('error', () => {});
      const ended = new Promise<number>((r) => silent.once('end', () => r((now() - t0) / MS)));
      const busy = await connect(port);
      let busyClosed = false;
      busy.on('close', () => {
        busyClosed = true;
      });
      const active = () => svc.proxy.describe()[0]?.connections.active;
      let letGoMs = Number.NaN;
      for (let i = 0; i < 10; i++) {
        await roundTrip(busy);
        await new Promise((r) => setTimeout(r, 300));
        if (Number.isNaN(letGoMs) && active() === 1) letGoMs = (now() - t0) / MS;
      }
      const endMs = await ended;
      assert.ok(endMs >= 1000 && endMs < 1000 + 1000, `the silent connection got its FIN after ${endMs} ms`);
      assert.ok(letGoMs >= 2000 && letGoMs < 2000 + 1500, `and the proxy let go of it after ${letGoMs} ms`);
      assert.equal(busyClosed, false, 'the connection in use was closed');
      busy.destroy();
      silent.destroy();
    } finally {
      await svc.stop();
      await echo.close();
    }
  });
});

describe('stopping', () => {
  it('a request in flight gets its answer; new connections are refused meanwhile', {
    timeout: 15_000,
  }, async () => {
    // A server that answers 300 ms after it reads: the request has left the proxy when the stop begins.
    const slow = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d) => setTimeout(() => s.write(d), 300));
    });
    const port = await listen(slow);
    const svc = await start(profileYaml('drain', '{ latency: 2ms }'), [`0=ue->edge=127.0.0.1:${port}`]);
    const route = svc.routePorts()[0] as number;
    const c = await connect(route);
    const answer = new Promise<string>((r) => c.once('data', (d) => r(d.toString())));
    c.write('in flight');
    await new Promise((r) => setTimeout(r, 50));
    const stopped = svc.stop(5);
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(connect(route), /ECONNREFUSED/);
    assert.equal(await answer, 'in flight');
    // Answered, the client closes; the proxy then has nothing left to wait for and stops well before 5 s.
    const t0 = now();
    c.end();
    await stopped;
    assert.ok((now() - t0) / MS < 1000, `stopped ${(now() - t0) / MS} ms after the last connection closed`);
    await new Promise<void>((r) => slow.close(() => r()));
  });
});
