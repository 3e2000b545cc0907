// What a result set records about where it ran: the code (commit, and whether the tree had uncommitted changes),
// versions, and the host (kernel, cores, and during each run the load average, how busy the CPUs were and how much
// time the hypervisor stole from them). A shared or virtual host shows up here before it shows up as a tail.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CodeVersion {
  commit: string | null;
  dirty: boolean | null;
}

export async function codeVersion(root: string): Promise<CodeVersion> {
  try {
    const { stdout: commit } = await run('git', ['rev-parse', 'HEAD'], { cwd: root });
    const { stdout: status } = await run('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
    });
    return { commit: commit.trim(), dirty: status.trim() !== '' };
  } catch {
    return { commit: null, dirty: null };
  }
}

export async function versions(root: string): Promise<Record<string, string>> {
  const pkg = JSON.parse(await readFile(`${root}/package.json`, 'utf8')) as { version: string };
  const out: Record<string, string> = { 'mec-testbed': pkg.version, node: process.versions.node };
  for (const dep of ['express', 'prom-client', 'vega', 'vega-lite', 'yaml']) {
    try {
      const p = JSON.parse(await readFile(`${root}/node_modules/${dep}/package.json`, 'utf8')) as {
        version: string;
      };
      out[dep] = p.version;
    } catch {}
  }
  return out;
}

export function hostInfo() {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    cores: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryBytes: os.totalmem(),
  };
}

/** The aggregate `cpu` line of /proc/stat, in clock ticks; null where there is no /proc. */
export async function cpuTimes(): Promise<{ total: number; idle: number; steal: number } | null> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice; guests are inside user and nice already.
    const total = f.slice(0, 8).reduce((a, b) => a + (b ?? 0), 0);
    return { total, idle: (f[3] ?? 0) + (f[4] ?? 0), steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

export interface HostDuringRun {
  /** One-minute load average at the end of the run. */
  loadAverage1m: number;
  /** Share of CPU time busy (not idle or waiting for I/O) over the run, all cores. */
  cpuBusy: number | null;
  /** Share of CPU time the hypervisor gave to someone else over the run. */
  cpuSteal: number | null;
}

/** Starts measuring the host; the returned function ends it. */
export async function watchHost(): Promise<() => Promise<HostDuringRun>> {
  const before = await cpuTimes();
  return async () => {
    const after = await cpuTimes();
    const load = os.loadavg()[0] ?? 0;
    if (!before || !after || after.total <= before.total)
      return { loadAverage1m: load, cpuBusy: null, cpuSteal: null };
    const total = after.total - before.total;
    return {
      loadAverage1m: load,
      cpuBusy: 1 - (after.idle - before.idle) / total,
      cpuSteal: (after.steal - before.steal) / total,
    };
  };
}
