// Does `make dev` show what the profile predicts? (A benchmark, not a test.) Starts the dev testbed on free
// ports with PROFILE (default 5g-mec), measures the echo round trip to the edge and to the cloud from the
// UE side, on a reused connection and on a new connection per request, and compares with the model's
// requestBudget / predictedReduction (services/topology/paths.ts). Processing time is measured on the raw
// ports in the same run and added to the prediction. Targets: edge round trip within 15% of the prediction,
// reduction within 3 points. Loopback only, bounded counts.
//
//   node bench/dev-prediction.ts [--requests N]
import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadProfile, predictedReduction, requestBudget } from '../services/topology/index.ts';
import { freePorts } from '../test/support/ports.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: flags } = parseArgs({ options: { requests: { type: 'string' } } });
const N = Number(flags.requests ?? 150);
const PROFILE = process.env.PROFILE?.trim() || '5g-mec';

const now = () => Number(process.hrtime.bigint()) / 1e6;

function get(port: number, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = now();
    const req = http.get({ host: '127.0.0.1', port, path: '/api/v1/echo?bytes=64', agent }, (res) => {
      res.resume();
      res.on('end', () =>
        res.statusCode === 200 ? resolve(now() - t0) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('error', reject);
  });
}

/** N sequential requests; `reuse` keeps one connection (warmed first), otherwise a new one each time. */
async function series(port: number, reuse: boolean): Promise<number[]> {
  const agent = reuse ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
  if (agent) await get(port, agent);
  const xs: number[] = [];
  for (let i = 0; i < N; i++) xs.push(await get(port, agent));
  if (agent) agent.destroy();
  return xs;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<number> {
  const topology = await loadProfile(PROFILE);
  const [edge, cloud, edgeRaw, cloudRaw, edgeToCloud, admin] = (await freePorts(6)).map(String) as string[];
  const child: ChildProcess = spawn(process.execPath, ['hack/dev/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PROFILE,
      LOG_LEVEL: 'warn',
      DEV_EDGE_PORT: edge,
      DEV_CLOUD_PORT: cloud,
      DEV_EDGE_RAW_PORT: edgeRaw,
      DEV_CLOUD_RAW_PORT: cloudRaw,
      DEV_EDGE_CLOUD_PORT: edgeToCloud,
      DEV_ADMIN_PORT: admin,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((r) => child.on('exit', r));
  try {
    const deadline = Date.now() + 30_000;
    while (!out.includes('dev   ready')) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`make dev did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows: string[][] = [];
    const result: Record<string, number> = {};
    for (const site of ['edge', 'cloud'] as const) {
      const budget = requestBudget(topology, 'ue', site);
      const raw = Number(site === 'edge' ? edgeRaw : cloudRaw);
      const ue = Number(site === 'edge' ? edge : cloud);
      for (const reuse of [true, false]) {
        const processing = mean(await series(raw, reuse));
        const measured = await series(ue, reuse);
        const predicted =
          (reuse ? budget.reusedConnectionSeconds : budget.newConnectionSeconds) * 1e3 + processing;
        const m = mean(measured);
        const err = (m - predicted) / predicted;
        result[`${site}-${reuse ? 'reused' : 'new'}`] = m - processing;
        rows.push([
          site,
          reuse ? 'reused' : 'new',
          String(measured.length),
          processing.toFixed(2),
          predicted.toFixed(2),
          m.toFixed(2),
          median(measured).toFixed(2),
          `${(err * 100).toFixed(1)}%`,
          Math.abs(err) <= 0.15 ? 'met' : 'MISSED',
        ]);
      }
    }
    const header = ['site', 'connection', 'n', 'processing', 'predicted', 'mean', 'median', 'error', '±15%'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
    console.log(
      `make dev with profile ${topology.name}: echo round trips from the UE side (ms, ${N} requests each)`,
    );
    console.log(line(header));
    console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of rows) console.log(line(r));
    const predictedCut = predictedReduction(topology) * 100;
    let ok = rows.every((r) => r[8] === 'met');
    for (const kind of ['reused', 'new']) {
      const cut = (1 - (result[`edge-${kind}`] as number) / (result[`cloud-${kind}`] as number)) * 100;
      const diff = cut - predictedCut;
      ok &&= Math.abs(diff) <= 3;
      console.log(
        `reduction (${kind} connection, network part): measured ${cut.toFixed(1)}% vs predicted ${predictedCut.toFixed(1)}% (${diff >= 0 ? '+' : ''}${diff.toFixed(1)} points; target ±3) ${Math.abs(diff) <= 3 ? 'met' : 'MISSED'}`,
      );
    }
    return ok ? 0 : 1;
  } finally {
    child.kill('SIGINT');
    await exited;
  }
}

process.exitCode = await main();
