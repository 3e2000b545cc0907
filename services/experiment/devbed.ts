// The `make dev` testbed driven from code: the launcher (hack/dev/main.ts) started as a child with the run's
// profile file and ports, its lines kept in the result set's testbed.log, switched between profiles through the
// link proxy's admin API and stopped with SIGTERM (the launcher drains its services). Its pid is kept in the
// result set, so a runner that was killed can stop the testbed it left behind before resuming.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_PORTS, type DevPorts, devPorts } from '../../hack/dev/main.ts';
import { freePorts } from '../../test/support/ports.ts';
import type { LinkProfileDocument } from '../topology/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface DevTestbed {
  ports: DevPorts;
  pid: number;
  /** Replaces the profile in force (the proxy validates it again and keeps the old one on a problem). */
  applyProfile(doc: LinkProfileDocument): Promise<void>;
  stop(): Promise<void>;
}

/** Ports from DEV_*_PORT where set (each bad one named), free ones for the rest. */
export async function choosePorts(env: Readonly<Record<string, string | undefined>>): Promise<DevPorts> {
  const keys = Object.keys(DEFAULT_PORTS) as Array<keyof DevPorts>;
  const free = await freePorts(keys.length);
  const candidates = Object.fromEntries(keys.map((k, i) => [k, free[i] as number])) as unknown as DevPorts;
  const set = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('DEV_') && v?.trim()));
  const { ports, errors } = devPorts({ ...portEnv(candidates), ...set });
  if (errors.length > 0) throw new Error(`invalid ports: ${errors.join('; ')}`);
  return ports;
}

export function portEnv(p: DevPorts): Record<string, string> {
  return {
    DEV_EDGE_PORT: String(p.edge),
    DEV_CLOUD_PORT: String(p.cloud),
    DEV_EDGE_RAW_PORT: String(p.edgeRaw),
    DEV_CLOUD_RAW_PORT: String(p.cloudRaw),
    DEV_EDGE_CLOUD_PORT: String(p.edgeToCloud),
    DEV_ADMIN_PORT: String(p.admin),
  };
}

const PID_FILE = 'testbed.pid';

/** Stops a testbed a killed runner left running in this result set (only a `hack/dev/main.ts` with that pid). */
export async function stopLeftover(resultDir: string): Promise<boolean> {
  const file = path.join(resultDir, PID_FILE);
  const pid = Number(await readFile(file, 'utf8').catch(() => ''));
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  await rm(file, { force: true });
  if (!cmdline.includes('hack/dev/main.ts')) return false;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (!(await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => ''))) return true;
  }
  process.kill(pid, 'SIGKILL');
  return true;
}

export async function startDevTestbed(o: {
  resultDir: string;
  profileFile: string;
  ports: DevPorts;
  env?: Record<string, string>;
}): Promise<DevTestbed> {
  const log = createWriteStream(path.join(o.resultDir, 'testbed.log'), { flags: 'a' });
  const child: ChildProcess = spawn(process.execPath, ['hack/dev/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...o.env, ...portEnv(o.ports), PROFILE: o.profileFile, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await writeFile(path.join(o.resultDir, PID_FILE), String(child.pid));
  let out = '';
  const keep = (d: Buffer) => {
    log.write(d);
    if (out.length < 65_536) out += d;
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('dev   ready')) {
    if (child.exitCode !== null || out.includes('start failed') || Date.now() > deadline) {
      child.kill('SIGTERM');
      await exited;
      log.end();
      throw new Error(`make dev did not start (its output is in testbed.log):\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const admin = `http://127.0.0.1:${o.ports.admin}`;
  return {
    ports: o.ports,
    pid: child.pid as number,
    async applyProfile(doc) {
      const res = await fetch(`${admin}/api/v1/profile`, { method: 'PUT', body: JSON.stringify(doc) });
      if (!res.ok) throw new Error(`the link proxy refused the profile: ${await res.text()}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
      log.end();
      await rm(path.join(o.resultDir, PID_FILE), { force: true });
    },
  };
}
