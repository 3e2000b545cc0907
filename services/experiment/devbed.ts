// The `make dev` testbed for an experiment, through the dev launcher's library (hack/dev/launcher.ts): started with
// the run's profile on the result set's ports, every line of its services kept in testbed.log, switched between
// profiles through the link proxy's admin API, stopped in the launcher's order. The children's pids are kept in
// the result set while it runs, so a runner that was killed can stop the testbed it left behind before resuming.
import { createWriteStream } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startDev } from '../../hack/dev/launcher.ts';
import { DEFAULT_PORTS, type DevPorts, devPorts, PORT_VARS } from '../../hack/dev/wiring.ts';
import { freePorts } from '../../test/support/ports.ts';
import type { LinkProfileDocument } from '../topology/index.ts';

export interface ExperimentTestbed {
  ports: DevPorts;
  /** Replaces the profile in force (the proxy validates it again and keeps the old one on a problem). */
  applyProfile(doc: LinkProfileDocument): Promise<void>;
  stop(): Promise<void>;
}

/** Ports from DEV_*_PORT where set (each bad one named), free ones for the rest. */
export async function choosePorts(env: Readonly<Record<string, string | undefined>>): Promise<DevPorts> {
  const keys = Object.keys(DEFAULT_PORTS) as Array<keyof DevPorts>;
  const free = await freePorts(keys.length);
  const candidates = Object.fromEntries(keys.map((k, i) => [PORT_VARS[k], String(free[i])]));
  const set = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('DEV_') && v?.trim()));
  const { ports, errors } = devPorts({ ...candidates, ...set });
  if (errors.length > 0) throw new Error(`invalid ports: ${errors.join('; ')}`);
  return ports;
}

const PID_FILE = 'testbed.pids';
/** What each child of the launcher runs: a pid is only signalled while it still runs that. */
const SCRIPT = {
  cloud: 'services/cloud/main.ts',
  edge: 'services/edge/main.ts',
  proxy: 'services/link-proxy/main.ts',
};

async function commandLine(pid: number): Promise<string> {
  return await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
}

/** Stops a testbed a killed runner left running in this result set; true when there was one. */
export async function stopLeftover(resultDir: string): Promise<boolean> {
  const file = path.join(resultDir, PID_FILE);
  const text = await readFile(file, 'utf8').catch(() => '');
  await rm(file, { force: true });
  if (!text) return false;
  const pids = JSON.parse(text) as Partial<Record<keyof typeof SCRIPT, number>>;
  const ours = [];
  for (const [name, pid] of Object.entries(pids) as Array<[keyof typeof SCRIPT, number]>)
    if ((await commandLine(pid)).includes(SCRIPT[name])) ours.push(pid);
  for (const pid of ours) process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150 && ours.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const still = [];
    for (const pid of ours) if (await commandLine(pid)) still.push(pid);
    if (still.length === 0) return true;
  }
  for (const pid of ours) if (await commandLine(pid)) process.kill(pid, 'SIGKILL');
  return ours.length > 0;
}

export async function startExperimentTestbed(o: {
  resultDir: string;
  profileFile: string;
  ports: DevPorts;
}): Promise<ExperimentTestbed> {
  const log = createWriteStream(path.join(o.resultDir, 'testbed.log'), { flags: 'a' });
  let dev: Awaited<ReturnType<typeof startDev>>;
  try {
    dev = await startDev({
      profile: o.profileFile,
      ports: o.ports,
      env: { ...process.env, LOG_LEVEL: 'warn' },
      output: (line) => log.write(`${line}\n`),
      stateDir: null,
      // Three Node processes on a busy 2-core host can take longer than an idle laptop's few seconds.
      readyTimeoutMs: 60_000,
    });
  } catch (err) {
    log.end();
    throw new Error(`make dev did not start (its lines are in testbed.log): ${(err as Error).message}`);
  }
  await writeFile(path.join(o.resultDir, PID_FILE), JSON.stringify(dev.pids));
  const admin = `http://127.0.0.1:${o.ports.admin}`;
  return {
    ports: o.ports,
    async applyProfile(doc) {
      // A busy proxy answers 429 or 503 (its validator is occupied or the host too slow): each attempt waits
      // longer. A profile refused for what it says is not retried (it was validated before the first run).
      let last = '';
      for (const wait of [0, 1, 2, 4, 8]) {
        await new Promise((r) => setTimeout(r, wait * 1000));
        try {
          const res = await fetch(`${admin}/api/v1/profile`, { method: 'PUT', body: JSON.stringify(doc) });
          if (res.ok) return;
          last = await res.text();
          if (res.status !== 429 && res.status !== 503) break;
        } catch (err) {
          last = (err as Error).message;
        }
      }
      throw new Error(`the link proxy refused the profile: ${last}`);
    },
    async stop() {
      await dev.stop('experiment done');
      await new Promise((r) => log.end(r));
      await rm(path.join(o.resultDir, PID_FILE), { force: true });
    },
  };
}
