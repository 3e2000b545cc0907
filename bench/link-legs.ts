// Where a round trip through an emulator spends its time, leg by leg (a benchmark, not a test). One client
// connection, one request outstanding, 64-byte requests at a fixed rate, a fixed one-way delay without
// jitter, through the link proxy and through Toxiproxy in alternating runs. tcpdump stamps the four packets
// of each round trip (client → emulator → echo server → emulator → client), so each direction through the
// emulator is timed by the kernel: its median says how late the emulator is, its p99 − p50 how steady.
// Written to take apart the one point where Toxiproxy stayed ahead in bench/link-fidelity.ts (1 ms at 200
// requests/s). Needs tcpdump and root (no fallback: the legs only exist in a capture). Loopback only, bounded.
//
//   node bench/link-legs.ts [--delay 1] [--rate 200] [--seconds 10] [--runs 2] [--rt N] [--pin CPUS]
//   (TOXIPROXY_BIN for Toxiproxy; --rt and --pin place both emulators as in link-fidelity.ts, see placement.ts)
import type { ChildProcess } from 'node:child_process';
import type net from 'node:net';
import { captureAvailable, type Legs, legsThrough, startCapture } from './capture.ts';
import { benchFlags, quantile, setProxyDelay, setToxiproxyDelay, startEmulators } from './emulators.ts';
import { connect, MEASURED_BYTE, MESSAGE, WARMUP_BYTE } from './open-loop.ts';
import { describePlacement, placementFrom } from './placement.ts';

const flags = benchFlags(
  {
    delay: { default: 1, min: 0, max: 1000 },
    rate: { default: 200, min: 1, max: 2000 },
    seconds: { default: 10, min: 1, max: 120 },
    runs: { default: 2, min: 1, max: 10 },
  },
  ['rt', 'pin'],
);
const { delay: DELAY_MS, rate: RATE, seconds: SECONDS, runs: RUNS } = flags;
const PLACE = placementFrom(flags);

const WARMUP_REQUESTS = 50;

/** Sends requests one at a time at RATE on one fresh connection; returns the client's port. */
async function drive(
  port: number,
  requests: number,
  marker: number,
  socket?: net.Socket,
): Promise<net.Socket> {
  const s = socket ?? (await connect(port));
  const message = Buffer.alloc(MESSAGE, marker);
  for (let i = 0; i < requests; i++) {
    const next = performance.now() + 1000 / RATE;
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000);
      const onData = (d: Buffer) => {
        got += d.length;
        if (got < message.length) return;
        clearTimeout(timer);
        s.off('data', onData);
        resolve();
      };
      s.on('data', onData);
      s.write(message);
    });
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return s;
}

function row(label: string, legs: Legs[]): string {
  const cell = (pick: (l: Legs) => number) => {
    const xs = legs.map(pick).sort((a, b) => a - b);
    const p50 = quantile(xs, 0.5);
    const p99 = quantile(xs, 0.99);
    return `${p50.toFixed(3)} / ${p99.toFixed(3)} / ${(p99 - p50).toFixed(3)}`;
  };
  return `| ${label} | ${legs.length} | ${cell((l) => l.there)} | ${cell((l) => l.back)} | ${cell((l) => l.upstream)} | ${cell((l) => l.roundTrip)} |`;
}

async function main(): Promise<void> {
  const capture = captureAvailable();
  if (!capture.ok) {
    console.error(`link legs: needs a packet capture on loopback, and ${capture.why}`);
    process.exit(2);
  }
  const children: ChildProcess[] = [];
  process.on('SIGINT', () => {
    for (const c of children) c.kill('SIGTERM');
    process.exit(130);
  });
  try {
    const { echoPort, proxy, toxiproxy } = await startEmulators(children, PLACE);
    await setProxyDelay(proxy.adminPort, DELAY_MS, 0);
    if (toxiproxy) await setToxiproxyDelay(toxiproxy.adminPort, DELAY_MS, 0);
    console.log(
      `link legs: ${DELAY_MS} ms one way, no jitter, ${RATE} requests/s one at a time, ${SECONDS} s per run, ` +
        `${RUNS} alternating runs; kernel-timed (tcpdump)${describePlacement(PLACE)}`,
    );
    if (!toxiproxy) console.log('Toxiproxy: not measured (set TOXIPROXY_BIN)');
    console.log('\nms, each cell p50 / p99 / p99 − p50\n');
    console.log('| emulator, run | n | there (emulator in → out) | back | echo server | round trip |');
    console.log('|---|---|---|---|---|---|');
    const targets = [
      { label: 'link-proxy', port: proxy.port },
      ...(toxiproxy ? [{ label: 'Toxiproxy', port: toxiproxy.port }] : []),
    ];
    for (let run = 1; run <= RUNS; run++) {
      for (const target of targets) {
        const cap = await startCapture([target.port, echoPort]);
        const socket = await drive(target.port, WARMUP_REQUESTS, WARMUP_BYTE);
        const client = socket.localPort as number;
        await drive(target.port, RATE * SECONDS, MEASURED_BYTE, socket);
        socket.destroy();
        const legs = legsThrough(
          await cap.stop(),
          { client, emulator: target.port, upstream: echoPort },
          MEASURED_BYTE,
        );
        console.log(row(`${target.label}, ${run}`, legs));
      }
    }
    console.log(
      `\nthere/back: the emulator's hold of a request or an answer, ${DELAY_MS} ms configured; a steady emulator has ` +
        'p99 − p50 near 0. echo server: the upstream, the same for both. Loopback only.',
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}

await main();
