// What a Prometheus scrape of the link proxy does to its timing (a benchmark, not a test). The proxy carries
// 1,000 requests/s at a fixed one-way delay on loopback, in alternating rounds with /metrics scraped every
// --every ms and with no scrape at all, and the proxy's own counter of releases more than 1 ms late
// (mec_link_proxy_late_releases_total) is read around each round. A scrape that holds the event loop shows
// as more late releases in the scraped rounds. --compare DIR adds another checkout's proxy (e.g. the one
// before a change; `git worktree add /tmp/old HEAD~1`), measured in the same rounds; --rt N runs the proxies
// under SCHED_FIFO N, where the scrape's own stall is not hidden behind the wait for a CPU (--pin CPUS puts
// them on CPUs of their own; see placement.ts). Loopback only, bounded.
//
//   node bench/scrape-stall.ts [--seconds 8] [--rounds 3] [--every 1000] [--delay 20] [--compare DIR] [--rt N] [--pin CPUS]
import type { ChildProcess } from 'node:child_process';
import {
  benchFlags,
  freePort,
  proxyTiming,
  ROOT,
  setProxyDelay,
  startEmulators,
  startProxy,
  waitPort,
} from './emulators.ts';
import { openLoop } from './open-loop.ts';
import { describePlacement, placementFrom } from './placement.ts';

const flags = benchFlags(
  {
    seconds: { default: 8, min: 1, max: 120 },
    rounds: { default: 3, min: 1, max: 20 },
    every: { default: 1000, min: 100, max: 60_000 },
    delay: { default: 20, min: 1, max: 1000 },
  },
  ['compare', 'rt', 'pin'],
);
const { seconds: SECONDS, rounds: ROUNDS, every: EVERY_MS, delay: DELAY_MS } = flags;
const PLACE = placementFrom(flags);
const RATE = 1000;

interface Target {
  label: string;
  port: number;
  adminPort: number;
}

/** The proxy's releases more than 1 ms late so far, all causes. */
async function lateReleases(adminPort: number): Promise<number> {
  return [...(await proxyTiming(adminPort)).causes.values()].reduce((sum, n) => sum + n, 0);
}

/** Requests at RATE for `seconds` on enough connections for the delay, scraping every `everyMs` (0: never). */
async function load(t: Target, seconds: number, everyMs: number): Promise<void> {
  const scrape = () => {
    const timer = setInterval(() => {
      void fetch(`http://127.0.0.1:${t.adminPort}/metrics`).then((r) => r.text());
    }, everyMs);
    return () => clearInterval(timer);
  };
  const poolSize = Math.ceil((RATE * 2 * (DELAY_MS + 5)) / 1000) + 10;
  const o = { port: t.port, rate: RATE, seconds, poolSize };
  await openLoop(everyMs > 0 ? { ...o, during: scrape } : o);
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const stop = () => {
    for (const c of children) c.kill();
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    const { echoPort, proxy } = await startEmulators(children, PLACE);
    const targets: Target[] = [{ label: 'link-proxy', port: proxy.port, adminPort: proxy.adminPort }];
    if (flags.compare) {
      const other = { port: await freePort(), adminPort: await freePort() };
      children.push(
        startProxy('compare', { ...other, upstreamPort: echoPort }, { place: PLACE, cwd: flags.compare }),
      );
      await waitPort(other.port);
      targets.push({ label: `compare (${flags.compare})`, ...other });
    }
    for (const t of targets) {
      await setProxyDelay(t.adminPort, DELAY_MS, 0);
      await load(t, 2, 0); // warm-up: the timer's path compiled before anything counts
    }
    console.log(
      `scrape stall: ${DELAY_MS} ms one way, ${RATE} requests/s, ${SECONDS} s per round, ${ROUNDS} alternating rounds, ` +
        `/metrics every ${EVERY_MS} ms or never${describePlacement(PLACE)} (${ROOT})`,
    );
    const counts = new Map<string, { scraped: number[]; quiet: number[] }>();
    for (let round = 0; round < ROUNDS; round++)
      for (const scraped of [true, false])
        for (const t of targets) {
          const before = await lateReleases(t.adminPort);
          await load(t, SECONDS, scraped ? EVERY_MS : 0);
          const late = (await lateReleases(t.adminPort)) - before;
          const c = counts.get(t.label) ?? { scraped: [], quiet: [] };
          (scraped ? c.scraped : c.quiet).push(late);
          counts.set(t.label, c);
        }
    const releases = RATE * SECONDS * 2;
    console.log(
      '\n| proxy | late > 1 ms, scraped (per round) | not scraped | scraped − not, per 10,000 releases |',
    );
    console.log('|---|---|---|---|');
    for (const [label, c] of counts) {
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;
      const extra = ((med(c.scraped) - med(c.quiet)) / releases) * 1e4;
      console.log(
        `| ${label} | ${c.scraped.join(', ')} | ${c.quiet.join(', ')} | ${extra.toFixed(1)} (medians) |`,
      );
    }
    console.log(`\n${releases} releases per round (both directions); loopback only.`);
  } finally {
    stop();
  }
}

await main();
