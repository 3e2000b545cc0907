// The testbed's own overhead as the UE sees it (a benchmark, not a test). `make dev` runs with the profile's
// latencies and nothing else (jitter, loss and rate off, so the configured round trip is one number); echo
// requests go from the UE side through the proxy to the edge on kept-alive connections at 100, 500 and 1,000
// per second (an open model: services/loadgen/http.ts); the overhead is the measured round trip minus the
// configured one (paths.ts), at p50 and p99: the proxy, the edge service, the HTTP stacks and the generator
// together. The same load straight to the edge's raw port shows the service's share, and to a bare node:http
// server answering the same 64 bytes the host's own floor (the generator, two event loops and the kernel, on a
// host that may be busy). Then the metrics' cost: every process's /metrics scraped every second, in rounds
// alternating with no scrape.
// Goals: at 500 requests/s the overhead is at most 0.5 ms at p50 and 2 ms at p99; scraping adds at most 5% to
// the round trip. Each figure is the median of the rounds. Loopback only, bounded durations.
//
//   node bench/overhead.ts [--profile NAME] [--rates 100,500,1000] [--rounds 3] [--seconds 4]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { startDev } from '../hack/dev/launcher.ts';
import { httpOpenLoop } from '../services/loadgen/http.ts';
import { type LinkProfileDocument, PRESETS, roundTripSeconds } from '../services/topology/index.ts';
import { freePorts } from '../test/support/ports.ts';
import { waitPort } from './emulators.ts';

const { values: flags } = parseArgs({
  options: {
    profile: { type: 'string', default: '5g-mec' },
    rates: { type: 'string', default: '100,500,1000' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
  },
});
const RATES = flags.rates.split(',').map(Number);
const ROUNDS = Number(flags.rounds);
const SECONDS = Number(flags.seconds);
if (![...RATES, ROUNDS, SECONDS].every((x) => Number.isFinite(x) && x > 0))
  throw new Error('--rates, --rounds and --seconds take positive numbers');
const GOAL = { rate: 500, p50Ms: 0.5, p99Ms: 2, scrapeShare: 0.05 };

/** The preset's latencies alone: the round trip a perfect testbed would show is then exactly the configured one. */
function latencyOnly(doc: LinkProfileDocument): LinkProfileDocument {
  const links: LinkProfileDocument['links'] = {};
  for (const [name, link] of Object.entries(doc.links)) {
    const directions = Object.fromEntries(
      Object.entries(link.directions ?? {}).flatMap(([d, o]) =>
        o.latency === undefined ? [] : [[d, { latency: o.latency }]],
      ),
    );
    links[name] = {
      ...(link.latency === undefined ? {} : { latency: link.latency }),
      ...(Object.keys(directions).length > 0 ? { directions } : {}),
    };
  }
  return { ...doc, name: `${doc.name}-latency-only`, links };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))] as number;
};
const median = (xs: number[]) => quantile(xs, 0.5);

/** User + system CPU seconds of a process, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) / 100;
}

type Condition = 'bare' | 'raw' | 'proxied' | 'scraped';

async function main(): Promise<number> {
  const preset = PRESETS[flags.profile];
  if (!preset) throw new Error(`--profile ${flags.profile}: not a preset`);
  const dir = mkdtempSync(join(tmpdir(), 'mec-bench-overhead-'));
  const file = join(dir, 'profile.yaml');
  writeFileSync(file, stringify(latencyOnly(preset)));
  const [edge, cloud, edgeRaw, cloudRaw, edgeToCloud, admin, barePort] = (await freePorts(7)) as number[];
  const dev = await startDev({
    profile: file,
    ports: { edge, cloud, edgeRaw, cloudRaw, edgeToCloud, admin },
    env: { ...process.env, LOG_LEVEL: 'warn' },
    output: () => {},
    stateDir: null,
  });
  // The floor: a bare node:http server in its own process, answering 64 bytes as the echo route does.
  const bare = spawn(
    process.execPath,
    [
      '-e',
      `const b = Buffer.alloc(64, 120); require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/octet-stream'); s.setHeader('content-length', 64); s.end(b); }).listen(${barePort}, '127.0.0.1')`,
    ],
    { stdio: 'inherit' },
  );
  try {
    await waitPort(barePort as number);
    const configuredMs = roundTripSeconds(dev.topology, 'ue', 'edge') * 1e3;
    const metricsUrls = [
      `http://127.0.0.1:${dev.ports.edgeRaw}/metrics`,
      `http://127.0.0.1:${dev.ports.cloudRaw}/metrics`,
      `http://127.0.0.1:${dev.ports.admin}/metrics`,
    ];
    const pids = Object.values(dev.pids);
    console.log(
      `testbed overhead as the UE sees it: make dev with ${dev.topology.name} (configured ue->edge round trip ${configuredMs} ms), ` +
        `echo on kept-alive connections, ${ROUNDS} rounds of ${SECONDS} s per condition; load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    );
    /** One stretch: its round trips (ms) and the testbed's CPU per request (µs). */
    const stretch = async (condition: Condition, rate: number) => {
      const latencies: number[] = [];
      const errors = new Map<string, number>();
      const scraper =
        condition === 'scraped'
          ? setInterval(() => {
              for (const u of metricsUrls)
                void fetch(u).then(
                  (r) => r.arrayBuffer(),
                  () => undefined,
                );
            }, 1000)
          : undefined;
      const cpu0 = pids.reduce((s, p) => s + cpuSeconds(p), 0);
      const { sent } = await httpOpenLoop({
        port:
          condition === 'bare'
            ? (barePort as number)
            : condition === 'raw'
              ? dev.ports.edgeRaw
              : dev.ports.edge,
        rate,
        warmupSeconds: 0.5,
        seconds: SECONDS,
        connection: 'reused',
        maxInFlight: Math.max(64, Math.ceil((rate * (configuredMs + 50)) / 1000)),
        request: () => ({ method: 'GET', path: '/api/v1/echo?bytes=64' }),
        onRecord: (r) => {
          if (r.phase !== 'measure') return;
          if (r.status === 200) latencies.push(r.latencyMs);
          else
            errors.set(r.error || `HTTP ${r.status}`, (errors.get(r.error || `HTTP ${r.status}`) ?? 0) + 1);
        },
      });
      if (scraper) clearInterval(scraper);
      const cpuUs = ((pids.reduce((s, p) => s + cpuSeconds(p), 0) - cpu0) / Math.max(1, sent)) * 1e6;
      if (errors.size > 0)
        console.error(
          `  (${condition} at ${rate}/s, not counted: ${[...errors].map(([e, n]) => `${n} ${e}`).join(', ')})`,
        );
      return { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), cpuUs };
    };
    const rows: string[][] = [];
    let met = true;
    for (const rate of RATES) {
      const got: Record<Condition, Array<{ p50: number; p99: number; cpuUs: number }>> = {
        bare: [],
        raw: [],
        proxied: [],
        scraped: [],
      };
      for (let round = 0; round < ROUNDS; round++) {
        // Alternating order, so a drift of the host's load weighs on both sides alike.
        const order: Condition[] =
          round % 2 ? ['scraped', 'proxied', 'raw', 'bare'] : ['bare', 'raw', 'proxied', 'scraped'];
        for (const c of order) got[c].push(await stretch(c, rate));
      }
      const m = (c: Condition, k: 'p50' | 'p99' | 'cpuUs') => median(got[c].map((x) => x[k]));
      const over = { p50: m('proxied', 'p50') - configuredMs, p99: m('proxied', 'p99') - configuredMs };
      const scrape = {
        p50: m('scraped', 'p50') / m('proxied', 'p50') - 1,
        p99: m('scraped', 'p99') / m('proxied', 'p99') - 1,
      };
      const judged = rate === GOAL.rate;
      const ok =
        over.p50 <= GOAL.p50Ms &&
        over.p99 <= GOAL.p99Ms &&
        scrape.p50 <= GOAL.scrapeShare &&
        scrape.p99 <= GOAL.scrapeShare;
      if (judged) met &&= ok;
      const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
      rows.push([
        String(rate),
        over.p50.toFixed(3),
        over.p99.toFixed(3),
        `${m('raw', 'p50').toFixed(3)}/${m('raw', 'p99').toFixed(3)}`,
        `${m('bare', 'p50').toFixed(3)}/${m('bare', 'p99').toFixed(3)}`,
        `${pct(scrape.p50)}/${pct(scrape.p99)}`,
        `${m('proxied', 'cpuUs').toFixed(0)}/${m('scraped', 'cpuUs').toFixed(0)}`,
        judged ? (ok ? 'met' : 'MISSED') : '',
      ]);
    }
    const header = [
      'req/s',
      'overhead p50 (ms)',
      'p99',
      'edge alone p50/p99',
      'host floor p50/p99',
      'scraped vs not p50/p99',
      'cpu µs/req not/scraped',
      'goal',
    ];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
    console.log(
      `overhead = measured round trip − configured (${configuredMs} ms); edge alone = the same load on the edge's raw port (no proxy, no link); host floor = on a bare node:http server; ` +
        `scraped = edge, cloud and proxy /metrics every second; cpu = the three processes' CPU per request. ` +
        `Goal at ${GOAL.rate}/s: p50 ≤ ${GOAL.p50Ms} ms, p99 ≤ ${GOAL.p99Ms} ms, scraping ≤ +${GOAL.scrapeShare * 100}%.`,
    );
    return met ? 0 : 1;
  } finally {
    bare.kill();
    await dev.stop('benchmark done');
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
