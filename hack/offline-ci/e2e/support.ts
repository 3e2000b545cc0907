// What checks.ts needs besides the Kubernetes client: running commands with their output streamed and kept,
// reading the probes' round trips from Prometheus, and requests through `kubectl port-forward`.
import { spawn } from 'node:child_process';
import http from 'node:http';

export interface RunResult {
  code: number;
  output: string;
  seconds: number;
}

/** Runs a command; its output is kept and, unless quiet, streamed with a label. Never throws. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; label?: string; quiet?: boolean } = {},
): Promise<RunResult> {
  const started = Date.now();
  if (opts.label) console.log(`[e2e] $ ${opts.label}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk;
      if (!opts.quiet) process.stdout.write(chunk);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => {
      output += String(err);
    });
    child.on('close', (code) => resolve({ code: code ?? 1, output, seconds: (Date.now() - started) / 1000 }));
  });
}

export const withinShare = (measured: number, want: number, share: number) =>
  Math.abs(measured - want) <= want * share;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export interface RoundTrips {
  edge: number[];
  cloud: number[];
  /** Each cloud sample with its scrape time (unix seconds). */
  cloudAt: Array<{ at: number; seconds: number }>;
}

/**
 * The probes' round trips between two times: each probe's connect + processing (time to first byte) halved,
 * as the recording rule target_site:probe_round_trip_seconds does, one value per scrape.
 */
export async function roundTripSamples(prometheus: string, from: number, to: number): Promise<RoundTrips> {
  if (to <= from) return { edge: [], cloud: [], cloudAt: [] };
  // The cluster's own recording rule (successful probes only), halved as its round-trip rules halve it.
  const query = 'instance_target_site:probe_http_time_to_first_byte_seconds:sum / 2';
  const url = `${prometheus}/api/v1/query_range?query=${encodeURIComponent(query)}&start=${from}&end=${to}&step=1`;
  const body = (await (await fetch(url)).json()) as {
    status: string;
    error?: string;
    data?: { result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> };
  };
  if (body.status !== 'success') throw new Error(`Prometheus: ${body.error}`);
  const out: RoundTrips = { edge: [], cloud: [], cloudAt: [] };
  for (const series of body.data?.result ?? []) {
    const site = series.metric.target_site;
    if (site !== 'edge' && site !== 'cloud') continue;
    // A range query repeats the last sample at every step until the next scrape: keep one per distinct value run.
    let last: string | undefined;
    for (const [at, value] of series.values) {
      if (value === last) continue;
      last = value;
      out[site].push(Number(value));
      if (site === 'cloud') out.cloudAt.push({ at, seconds: Number(value) });
    }
  }
  return out;
}

export const medianRoundTrips = (s: RoundTrips) => ({ edge: median(s.edge), cloud: median(s.cloud) });

export interface Answer {
  status: number;
  cache: string | undefined;
  seconds: number;
}

/**
 * GETs each path in turn on one kept-alive connection through `kubectl port-forward <target> :<port>`, and times
 * each request (the connection is opened by a first, untimed request to /healthz).
 */
export async function fetchThroughPortForward(
  kubectl: string,
  context: string,
  target: string,
  port: number,
  paths: string[],
): Promise<Answer[]> {
  const child = spawn(
    kubectl,
    ['--context', context, '-n', 'mec-testbed', 'port-forward', target, `:${port}`],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const local = await new Promise<number>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`port-forward did not start: ${text}`)), 20_000);
      const onData = (chunk: Buffer) => {
        text += chunk;
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', () => reject(new Error(`port-forward exited: ${text}`)));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<Answer>((resolve, reject) => {
        const t0 = process.hrtime.bigint();
        http
          .get({ host: '127.0.0.1', port: local, path, agent }, (res) => {
            res.resume();
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                cache: res.headers['x-mec-cache'] as string | undefined,
                seconds: Number(process.hrtime.bigint() - t0) / 1e9,
              }),
            );
          })
          .on('error', reject);
      });
    await get('/healthz');
    const answers: Answer[] = [];
    for (const p of paths) answers.push(await get(p));
    agent.destroy();
    return answers;
  } finally {
    child.kill();
  }
}
