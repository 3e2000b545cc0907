// A process under fuzzing: one of ours started as its own Node process, so "still alive" and "memory bounded"
// are measured on it and not on the test runner (whose generators allocate a lot). Its memory comes from
// /proc/<pid>/status (VmHWM, the resident high-water mark), which is there on Linux; elsewhere it is undefined
// and the callers say so.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface FuzzedProcess {
  readonly child: ChildProcess;
  /** Everything it printed, stdout and stderr. */
  output(): string;
  alive(): boolean;
  /** Resident high-water mark in KiB, or undefined where /proc is not readable. */
  peakKiB(): number | undefined;
  stop(): Promise<void>;
}

/** Starts `node <script>` from the repository root with `env` and waits until `ready()` resolves true. */
export async function startFuzzed(
  script: string,
  env: Record<string, string>,
  ready: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<FuzzedProcess> {
  const child = spawn(process.execPath, [script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const keep = (d: Buffer) => {
    // The last 64 KiB is what a failure report needs.
    text = (text + d.toString()).slice(-65_536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const alive = () => child.exitCode === null && child.signalCode === null;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!alive()) throw new Error(`${script} exited before it was ready:\n${text}`);
    if (await ready().catch(() => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} was not ready within ${timeoutMs} ms:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => text,
    alive,
    peakKiB() {
      try {
        const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

/**
 * One HTTP request on a connection of its own (no keep-alive pool, so no request lands on a connection the
 * server is closing, and each case starts clean), with a deadline; rejects on a timeout or a reset.
 */
export function request(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    timeoutMs: number;
  },
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: options.method ?? 'GET', headers: options.headers, agent: false, timeout: options.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Every error answer of every process is `{"error": {"code", "message", ...}}`. */
export function isJsonError(body: string): boolean {
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return typeof parsed.error?.code === 'string' && typeof parsed.error.message === 'string';
  } catch {
    return false;
  }
}

export interface TrafficSummary {
  /** Requests judged (sent and answered while not paused). */
  sent: number;
  failures: string[];
  medianMs: number;
  slowestMs: number;
}

/**
 * Ordinary traffic beside a fuzz run: `send` every `intervalMs`, each answer expected 200 within `timeoutMs`.
 * pause() while the fuzz legitimately changes what the traffic sees (an accepted profile slowing the link);
 * requests that overlap a pause are not judged.
 */
export function trafficBeside(
  send: (timeoutMs: number) => Promise<Answer>,
  intervalMs: number,
  timeoutMs: number,
) {
  let running = true;
  let paused = false;
  let changes = 0;
  const times: number[] = [];
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      const judged = paused ? -1 : changes;
      const result = await send(timeoutMs).then(
        (answer) => (answer.status === 200 ? answer.ms : `status ${answer.status}`),
        (err: Error) => err.message,
      );
      if (judged === changes && !paused) {
        if (typeof result === 'number') times.push(result);
        else failures.push(result);
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    pause() {
      paused = true;
      changes++;
    },
    resume() {
      paused = false;
      changes++;
    },
    async stop(): Promise<TrafficSummary> {
      running = false;
      await loop;
      const sorted = [...times].sort((a, b) => a - b);
      return {
        sent: times.length + failures.length,
        failures,
        medianMs: sorted[Math.floor(sorted.length / 2)] ?? 0,
        slowestMs: sorted.at(-1) ?? 0,
      };
    },
  };
}
