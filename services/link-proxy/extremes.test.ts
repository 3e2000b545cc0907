// Profiles at the edges of what a profile may say, against the proxy as a process (main.ts): its CPU and its
// answer to SIGTERM are part of the claim. Each profile here once did one of: stopped the proxy (a denormal
// rate made a release time infinite), left every link hung even after a good profile was restored (a rate so
// small that a release lay beyond the helper thread's 64-bit clock), or spun both CPUs and held SIGTERM off
// (an infinite rate made a release time NaN). The validator now refuses those numbers, and schedule.ts clamps
// what it computes besides; the validator's own extremes are here too. Whichever holds, the process lives,
// idles, carries traffic again once a good profile is in, and stops on SIGTERM within its grace period.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../../test/support/ports.ts';

const zeros = (n: number) => '0'.repeat(n);
const profile = (ueEdge: string) =>
  `apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: extreme\nlinks:\n  ue-edge: ${ueEdge}\n  edge-cloud: { latency: 1ms }\n`;
const GOOD = profile('{ latency: 2ms, rate: 80Mbit }');

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Writes `chunks` (each `bytes` long, a few ms apart) and resolves with how long all took to come back, or null. */
function echo(port: number, bytes: number, chunks = 1, timeoutMs = 2000): Promise<number | null> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const t0 = performance.now();
    let got = 0;
    const done = (v: number | null) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    s.on('error', () => done(null));
    s.on('data', (d) => {
      got += d.length;
      if (got >= bytes * chunks) done(performance.now() - t0);
    });
    for (let i = 0; i < chunks; i++) setTimeout(() => s.write(Buffer.alloc(bytes, 120)), i * 10);
  });
}

describe('profiles at the extremes, against the proxy process', () => {
  let upstream: net.Server;
  let upstreamPort: number;
  before(async () => {
    upstream = net.createServer((s) => {
      s.on('error', () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as net.AddressInfo).port;
  });
  after(() => new Promise<void>((r) => upstream.close(() => r())));

  const cases: Array<{ what: string; ueEdge: string; bytes: number; chunks: number }> = [
    {
      what: 'a denormal rate (once: the proxy exited)',
      ueEdge: `{ latency: 1ms, rate: 0.${zeros(319)}1bit }`,
      bytes: 20_000,
      chunks: 1,
    },
    {
      what: 'a rate of 1e-21 bit/s (once: every link hung, for good)',
      ueEdge: `{ latency: 1ms, rate: 0.${zeros(20)}1bit }`,
      bytes: 20_000,
      chunks: 1,
    },
    {
      what: 'an infinite rate (once: NaN releases, both CPUs spinning)',
      ueEdge: `{ latency: 20ms, rate: 1${zeros(400)}Gbit }`,
      bytes: 100,
      chunks: 10,
    },
  ];
  cases.push({
    what: "the validator's slowest link with its longest latency",
    ueEdge: '{ latency: 10s, jitter: 10s, rate: 1kbit }',
    bytes: 20_000,
    chunks: 1,
  });
  for (const c of cases) {
    it(`${c.what}: it lives, idles, carries traffic once a good profile is back, and stops on SIGTERM`, async () => {
      const [port = 0, admin = 0] = await freePorts(2);
      const child: ChildProcess = spawn(
        process.execPath,
        [fileURLToPath(new URL('./main.ts', import.meta.url))],
        {
          env: {
            ...process.env,
            HOST: '127.0.0.1',
            ADMIN_PORT: String(admin),
            ROUTES: `${port}=ue->edge=127.0.0.1:${upstreamPort}`,
            LOG_LEVEL: 'error',
            SHUTDOWN_TIMEOUT_SECONDS: '1',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr?.on('data', (d) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      try {
        const put = async (body: string) => {
          for (let i = 0; ; i++) {
            try {
              return (await fetch(`http://127.0.0.1:${admin}/api/v1/profile`, { method: 'PUT', body }))
                .status;
            } catch (err) {
              if (i > 100 || child.exitCode !== null) throw err;
              await new Promise((r) => setTimeout(r, 50));
            }
          }
        };
        const status = await put(profile(c.ueEdge));
        // Refused by the validator, or accepted and clamped: either way the rest must hold.
        assert.ok(status === 200 || status === 400, `PUT answered ${status}`);
        // Traffic under it; a slow link may hold it (its backlog is released within the clamp, an hour).
        await Promise.all(Array.from({ length: 5 }, () => echo(port, c.bytes, c.chunks, 3000)));
        assert.equal(child.exitCode, null, `the proxy exited: ${stderr}`);
        assert.equal(await put(GOOD), 200);
        const rtt = await echo(port, c.bytes, c.chunks);
        assert.ok(rtt !== null, 'a new connection got no answer under the restored profile');
        const pid = child.pid as number;
        const cpu0 = cpuSeconds(pid);
        await new Promise((r) => setTimeout(r, 1500));
        const busy = (cpuSeconds(pid) - cpu0) / 1.5;
        assert.ok(busy < 0.3, `the idle proxy used ${Math.round(busy * 100)}% of a core`);
        const t0 = performance.now();
        child.kill('SIGTERM');
        const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('running'), 4000))]);
        assert.equal(code, 0, `after SIGTERM (${Math.round(performance.now() - t0)} ms): ${code}; ${stderr}`);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  }
});
