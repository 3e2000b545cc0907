// The runner for real, on `make dev` with free ports: a run killed mid-way and resumed (the testbed it left behind
// stopped, every run done exactly once), Ctrl-C keeping what finished, and the built-in `smoke` end to end with
// the report's numbers recomputed here from the raw requests, and the report opened in headless Chromium.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { commandWorks, need } from '../../test/support/requirements.ts';
import type { Summary } from './analysis.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = 'services/experiment/main.ts';
const chromium = commandWorks('chromium', ['--version'], "Debian's chromium (apt-get install chromium)");

const TINY = `apiVersion: mec-testbed.dev/v1alpha1
kind: Experiment
name: tiny
description: Two conditions, two runs each, a second per site.
fixed: { workload: echo, rate: 20 }
factors:
  connection: [reused, new]
repetitions: 2
duration: 1s
warmup: 0.3s
pause: 0s
calibration: { requests: 3 }
`;

const temps: string[] = [];
after(async () => {
  for (const t of temps) await rm(t, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'exp-runner-'));
  temps.push(d);
  return d;
}

/** Runs main.ts with these arguments; the environment has no DEV_*_PORT, so the testbed takes free ports. */
function start(args: string[]): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('DEV_')));
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    out += d;
  });
  return { child, output: () => out, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
}

async function resultDir(out: string): Promise<string> {
  const [name] = (await readdir(out)).filter((n) => !n.startsWith('.'));
  assert.ok(name, `no result set in ${out}`);
  return path.join(out, name);
}

async function doneRuns(dir: string): Promise<string[]> {
  const runs = await readdir(path.join(dir, 'runs')).catch(() => [] as string[]);
  return runs.filter((r) => existsSync(path.join(dir, 'runs', r, 'run.json'))).sort();
}

async function waitFor(what: string, until: () => Promise<boolean>, output: () => string, ms = 120_000) {
  const deadline = Date.now() + ms;
  while (!(await until())) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}:\n${output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The pids whose parent is `pid` (from /proc). */
function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // The field after the command (in parentheses, which may hold spaces) is the state, then the parent.
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Whether a process runs (a zombie waiting for its parent does not count). */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

describe('the experiment runner on make dev', () => {
  it('resumes after being killed: the testbed left behind is stopped, every run done exactly once', async () => {
    const work = await tempDir();
    const spec = path.join(work, 'tiny.yaml');
    await writeFile(spec, TINY);
    const out = path.join(work, 'results');
    const first = start(['run', spec, '--out', out]);
    let dir = '';
    await waitFor(
      'two finished runs',
      async () => {
        if (!existsSync(out) || (await readdir(out)).length === 0) return false;
        dir = await resultDir(out);
        return (await doneRuns(dir)).length >= 2;
      },
      first.output,
    );
    const testbed = Object.values(
      JSON.parse(await readFile(path.join(dir, 'testbed.pids'), 'utf8')),
    ) as number[];
    assert.equal(testbed.length, 3, 'cloud, edge and the proxy');
    // The launcher's reaper stops the testbed of a runner killed outright; with the reaper killed too (the whole
    // session gone at once), the testbed is left behind, which is what resume must clean up.
    const reapers = childPids(first.child.pid as number).filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('reaper.ts'),
    );
    assert.equal(reapers.length, 1, 'the launcher runs one reaper');
    for (const pid of reapers) process.kill(pid, 'SIGKILL');
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(testbed.every(alive), 'the killed runner left its testbed running (what resume must clean up)');
    const before = await doneRuns(dir);
    const second = start(['run', spec, '--resume', dir]);
    assert.equal(await second.exited, 0, second.output());
    assert.match(second.output(), /stopped the testbed a killed run had left behind/);
    assert.match(second.output(), new RegExp(`${4 - before.length} of 4 runs to do`));
    assert.ok(!testbed.some(alive), 'the leftover testbed is gone');
    assert.deepEqual(await doneRuns(dir), ['c01-r1', 'c01-r2', 'c02-r1', 'c02-r2']);
    const rows = (await readFile(path.join(dir, 'runs.csv'), 'utf8')).trim().split('\n').slice(1);
    assert.equal(rows.length, 8, 'one row per run and site');
    for (const r of await doneRuns(dir)) {
      const csv = gunzipSync(await readFile(path.join(dir, 'runs', r, 'requests.csv.gz'))).toString();
      const measured = csv.split('\n').filter((l) => l.includes(',measure,'));
      assert.equal(measured.length, 2 * 20, `${r}: 20 measured requests per site`);
    }
  });

  it('Ctrl-C keeps the finished runs, sets the one under way aside, writes the report and says how to resume', async () => {
    const work = await tempDir();
    const spec = path.join(work, 'tiny.yaml');
    await writeFile(spec, TINY.replace('repetitions: 2', 'repetitions: 3'));
    const out = path.join(work, 'results');
    const run = start(['run', spec, '--out', out]);
    let dir = '';
    await waitFor(
      'one finished run and the next started',
      async () => {
        if (!existsSync(out) || (await readdir(out)).length === 0) return false;
        dir = await resultDir(out);
        return (await doneRuns(dir)).length >= 1 && (await readdir(path.join(dir, 'runs'))).length >= 2;
      },
      run.output,
    );
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, run.output());
    assert.match(run.output(), /SIGINT: stopping/);
    assert.match(run.output(), /not finished: resume with {2}make experiment EXPERIMENT=tiny RESUME=/);
    const done = await doneRuns(dir);
    assert.ok(done.length >= 1);
    const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as Summary;
    assert.equal(summary.runs.done, done.length);
    assert.ok(summary.warnings.some((w) => w.includes(`${done.length} of 6 planned runs are done`)));
    assert.ok(existsSync(path.join(dir, 'report.html')));
    const entries = await readdir(path.join(dir, 'runs'));
    assert.ok(
      entries.every((e) => e.endsWith('.partial') || done.includes(e)),
      entries.join(' '),
    );
    assert.ok(!existsSync(path.join(dir, 'testbed.pids')), 'the testbed was stopped');
  });

  it('smoke end to end: the report’s numbers are what the raw requests say; the report opens offline in Chromium', async (t) => {
    const work = await tempDir();
    const out = path.join(work, 'results');
    const started = Date.now();
    const run = start(['run', 'smoke', '--out', out]);
    assert.equal(await run.exited, 0, run.output().slice(-4000));
    const seconds = (Date.now() - started) / 1000;
    assert.ok(seconds < 180, `smoke took ${seconds} s (it must stay under 3 minutes)`);
    const dir = await resultDir(out);
    for (const f of [
      'report.html',
      'runs.csv',
      'summary.json',
      'metadata.json',
      'figures/cdf.svg',
      'figures/cdf.png',
    ])
      assert.ok(existsSync(path.join(dir, f)), f);
    const summary = JSON.parse(await readFile(path.join(dir, 'summary.json'), 'utf8')) as Summary;
    const metadata = JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8'));
    assert.match(metadata.commit ?? '', /^[0-9a-f]{40}$/);
    assert.equal(typeof metadata.dirty, 'boolean');

    // Recompute from the raw files with nothing from the analysis: per run and site the p50 (type 7) of the
    // measured 2xx latencies, the median over runs, and the reduction within each run.
    const q = (sorted: number[], p: number) => {
      const h = (sorted.length - 1) * p;
      const lo = Math.floor(h);
      return (
        (sorted[lo] as number) +
        (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] as number) - (sorted[lo] as number))
      );
    };
    const med = (xs: number[]) =>
      q(
        [...xs].sort((a, b) => a - b),
        0.5,
      );
    const perRun = new Map<string, { condition: string; edge: number; cloud: number }>();
    for (const r of await doneRuns(dir)) {
      const [head, ...lines] = gunzipSync(await readFile(path.join(dir, 'runs', r, 'requests.csv.gz')))
        .toString()
        .trim()
        .split('\n');
      const cols = (head as string).split(',');
      const at = (name: string) => cols.indexOf(name);
      const rows = lines.map((l) => l.split(','));
      const p50 = (site: string) =>
        q(
          rows
            .filter(
              (c) =>
                c[at('site')] === site && c[at('phase')] === 'measure' && Number(c[at('status')]) === 200,
            )
            .map((c) => Number(c[at('latency_ms')]))
            .sort((a, b) => a - b),
          0.5,
        );
      perRun.set(r, {
        condition: (rows[0] as string[])[at('condition')] as string,
        edge: p50('edge'),
        cloud: p50('cloud'),
      });
    }
    assert.equal(perRun.size, 6);
    for (const c of summary.conditions) {
      const runs = [...perRun.values()].filter((r) => r.condition === c.id);
      assert.equal(runs.length, 3);
      // The CSV keeps latencies to the microsecond: agreement within 2 µs.
      const close = (a: number, b: number, what: string) =>
        assert.ok(Math.abs(a - b) < 0.002, `${c.id} ${what}: ${a} vs ${b}`);
      close(c.sites.edge.percentiles.p50.estimate, med(runs.map((r) => r.edge)), 'edge p50');
      close(c.sites.cloud.percentiles.p50.estimate, med(runs.map((r) => r.cloud)), 'cloud p50');
      close(
        c.sites.edge.percentiles.p50.lower,
        Math.min(...runs.map((r) => r.edge)),
        'edge p50 lower (3 runs: the min)',
      );
      close(c.sites.edge.percentiles.p50.upper, Math.max(...runs.map((r) => r.edge)), 'edge p50 upper');
      close(c.reduction.p50.estimate, med(runs.map((r) => 1 - r.edge / r.cloud)), 'reduction');
      // And the emulation did what 5g-mec says, within what this host allows: the edge is clearly faster.
      assert.ok(c.reduction.p50.estimate > 0.3, `${c.label}: reduction ${c.reduction.p50.estimate}`);
    }
    const html = await readFile(path.join(dir, 'report.html'), 'utf8');
    const shown = (summary.conditions[0]?.sites.edge.percentiles.p50.estimate ?? Number.NaN).toFixed(1);
    assert.ok(html.includes(`>${shown} <span class="ci">`), `the report shows the edge p50 ${shown}`);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'nothing to run and nothing to fetch');

    if (!need(t, chromium)) return;
    const { default: puppeteer } = await import('puppeteer-core');
    const profile = await tempDir();
    const browser = await puppeteer.launch({
      executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
      headless: true,
      userDataDir: profile,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      const fetched: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warn') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('requestfailed', (r) => errors.push(`failed: ${r.url()}`));
      page.on('request', (r) => fetched.push(r.url()));
      await page.setViewport({ width: 1200, height: 900 });
      await page.goto(`file://${path.join(dir, 'report.html')}`, { waitUntil: 'load' });
      const shot = path.join(dir, 'report.png');
      await page.screenshot({ path: shot, fullPage: true });
      assert.deepEqual(errors, []);
      assert.deepEqual(fetched, [`file://${path.join(dir, 'report.html')}`], 'the report fetches nothing');
      const svgs = await page.$$eval('figure svg', (els) => els.map((e) => e.getBoundingClientRect().width));
      assert.ok(svgs.length >= 3 && svgs.every((w) => w > 100), `figures drawn: ${svgs}`);
      assert.ok((await readFile(shot)).length > 50_000, 'a screenshot with something in it');
    } finally {
      await browser.close();
    }
  });
});
