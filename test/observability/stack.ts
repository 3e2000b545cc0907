// The CI proof's testbed on loopback: the edge and cloud services, the userspace link proxy with the default
// profile (the same wiring as `make dev`: UE ports through ue->edge and ue->cloud, the edge's CLOUD_URL through
// edge->cloud), a blackbox exporter probing both sites through the proxy, and a real Prometheus with the
// cluster's rule files and a scrape configuration derived from the cluster's prometheus.yml.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePorts } from '../support/ports.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const PROMETHEUS_DIR = join(ROOT, 'k8s', 'base', 'prometheus');

export { freePorts };

export interface Proc {
  name: string;
  child: ChildProcess;
  output: () => string;
}

export function start(name: string, command: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, child, output: () => out };
}

export async function stop(procs: Proc[]): Promise<void> {
  await Promise.all(
    procs.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    ),
  );
}

export async function waitFor(url: string, proc: Proc, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null)
      throw new Error(`${proc.name} exited before ${url} answered:\n${proc.output()}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline)
      throw new Error(`${proc.name}: ${url} not ready after ${timeoutMs} ms:\n${proc.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface Ports {
  edgeRaw: number;
  cloudRaw: number;
  ueEdge: number;
  ueCloud: number;
  edgeToCloud: number;
  proxyAdmin: number;
  blackbox: number;
  prometheus: number;
}

export const ruleFiles = () =>
  readdirSync(join(PROMETHEUS_DIR, 'rules'))
    .filter((f) => f.endsWith('.rules.yml'))
    .map((f) => join(PROMETHEUS_DIR, 'rules', f));

interface ScrapeConfig {
  job_name: string;
  honor_labels?: boolean;
  metrics_path?: string;
  params?: Record<string, string[]>;
  static_configs?: Array<{ targets: string[]; labels?: Record<string, string> }>;
  relabel_configs?: Array<Record<string, unknown>>;
  kubernetes_sd_configs?: unknown;
}

/**
 * The cluster's prometheus.yml with loopback targets instead of Kubernetes discovery: same job names, the
 * services job's honor_labels, the blackbox job's module, params and relabelling (only the exporter's address
 * and the probed URLs change), the same rule files. Scrape and evaluation every second so a short run has data.
 */
export function testConfig(ports: Ports): string {
  const cluster = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
    scrape_configs: ScrapeConfig[];
  };
  const job = (name: string) => {
    const j = cluster.scrape_configs.find((c) => c.job_name === name);
    if (!j) throw new Error(`k8s/base/prometheus/prometheus.yml has no job ${name}`);
    return j;
  };
  const services = job('mec-services');
  const blackbox = job('blackbox');
  const probeUrls: Record<string, string> = {
    edge: `http://127.0.0.1:${ports.ueEdge}/healthz`,
    cloud: `http://127.0.0.1:${ports.ueCloud}/healthz`,
  };
  const blackboxRelabel = (blackbox.relabel_configs ?? []).map((r) =>
    r.target_label === '__address__' ? { ...r, replacement: `127.0.0.1:${ports.blackbox}` } : r,
  );
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles(),
    scrape_configs: [
      { job_name: 'prometheus', static_configs: [{ targets: [`127.0.0.1:${ports.prometheus}`] }] },
      {
        job_name: 'mec-services',
        honor_labels: services.honor_labels,
        static_configs: [
          { targets: [`127.0.0.1:${ports.edgeRaw}`], labels: { site: 'edge' } },
          { targets: [`127.0.0.1:${ports.cloudRaw}`], labels: { site: 'cloud' } },
        ],
      },
      { job_name: 'link-proxy', static_configs: [{ targets: [`127.0.0.1:${ports.proxyAdmin}`] }] },
      {
        job_name: 'blackbox',
        metrics_path: blackbox.metrics_path,
        params: blackbox.params,
        static_configs: (blackbox.static_configs ?? []).map((sc) => {
          const site = sc.labels?.target_site ?? '';
          const url = probeUrls[site];
          if (!url) throw new Error(`blackbox target without a known target_site: ${JSON.stringify(sc)}`);
          return { targets: [url], labels: sc.labels };
        }),
        relabel_configs: blackboxRelabel,
      },
    ],
  };
  return stringify(config);
}

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'mec-test-obs-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function writeConfig(dir: string, ports: Ports): string {
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, testConfig(ports));
  return file;
}

/** Prometheus' HTTP API. */
export class PromApi {
  readonly base: string;
  constructor(base: string) {
    this.base = base;
  }
  async get<T>(path: string, params: Record<string, string>): Promise<T> {
    const res = await fetch(`${this.base}${path}?${new URLSearchParams(params)}`, {
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }
  instant(query: string) {
    return this.get<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>(
      '/api/v1/query',
      {
        query,
      },
    );
  }
  range(query: string, start: number, end: number, step: number) {
    return this.get<{ result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }>(
      '/api/v1/query_range',
      { query, start: String(start), end: String(end), step: String(step) },
    );
  }
}
