// The Docker-free testbed as a library: start cloud, edge and the link proxy as child processes on this machine,
// wait until they are ready, and stop them in an order that lets requests in flight finish. `make dev`
// (hack/dev/main.ts) is a thin command around it; experiments call it from code:
//
//   const dev = await startDev({ profile: 'far-cloud', ports: { edge: 18081 }, output: (line) => log(line) });
//   dev.ports.edge; dev.topology;                   // where to send load, and the profile in force (resolved)
//   const { clean } = await dev.stop();              // drains edge, then cloud, then the proxy
//   dev.done                                          // settles when every child has exited (also on its own)
//
// Every child's output is prefixed with its name and handed to `output` line by line, and nothing is reported
// stopped before the last line of each child has been read.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProfile, PRESETS, type Topology } from '../../services/topology/index.ts';
import { removeState, stateDir, writeState } from './state.ts';
import {
  DEFAULT_PORTS,
  type DevPorts,
  type DevProcessName,
  DRAIN_SECONDS,
  devProcesses,
  PORT_OWNERS,
  PORT_VARS,
  portClashes,
  STOP_ORDER,
} from './wiring.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface DevOptions {
  /** A preset name or a profile file (default 5g-mec). */
  profile?: string;
  /** Ports to move; the rest keep DEFAULT_PORTS. */
  ports?: Partial<DevPorts>;
  /** The environment the children start from (default process.env; LOG_LEVEL is read from it). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Receives every line: the children's, prefixed with their name, and the launcher's own (default stdout). */
  output?: (line: string) => void;
  /** Colour the prefixes (default: when stdout is a terminal and output is the default). */
  color?: boolean;
  readyTimeoutMs?: number;
  /** Where to record the ports for `make dev-profile` (default .cache/dev/, or DEV_STATE_DIR); null for nowhere. */
  stateDir?: string | null;
}

export type ExitResult = number | NodeJS.Signals | null;

export interface DevStopResult {
  /** Every child exited 0 or by the signal it was sent. */
  clean: boolean;
  exits: Record<DevProcessName, ExitResult>;
  /** The child that exited on its own first, when one did: the cause of an unplanned stop. */
  failed?: DevProcessName;
}

export interface DevTestbed {
  ports: DevPorts;
  topology: Topology;
  /** The children's process ids, so a caller that may itself be killed can record them and clean up later. */
  pids: Record<DevProcessName, number>;
  /** Stops every child (idempotent); resolves when all have exited and their output is drained. */
  stop(reason?: string): Promise<DevStopResult>;
  /** Settles like stop() when the testbed ends, by stop() or because a child exited on its own. */
  done: Promise<DevStopResult>;
}

/** A start that failed: the message names the service and what to do. */
export class DevStartError extends Error {}

/** Ports something else already listens on, each named by its variable and the service it is for. */
export async function portProblems(ports: DevPorts): Promise<string[]> {
  const problems: string[] = [];
  for (const [key, port] of Object.entries(ports) as Array<[keyof DevPorts, number]>) {
    const code = await new Promise<string | undefined>((resolve) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
      probe.listen({ host: '127.0.0.1', port, exclusive: true }, () => probe.close(() => resolve(undefined)));
    });
    if (code === undefined) continue;
    const { process: owner, role } = PORT_OWNERS[key];
    const what = code === 'EADDRINUSE' ? 'is already in use' : `cannot be opened (${code})`;
    problems.push(
      `${owner}: port ${port} (${PORT_VARS[key]}, ${role}) ${what}: stop what holds it, or set ${PORT_VARS[key]}=<another port>`,
    );
  }
  return problems;
}

const COLORS: Record<DevProcessName, string> = { cloud: '\x1b[36m', edge: '\x1b[35m', proxy: '\x1b[33m' };

function prefixLines(child: ChildProcess, label: string, write: (line: string) => void): void {
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) write(`${label}${line}`);
    });
    stream?.on('end', () => {
      if (rest) write(`${label}${rest}`);
    });
  }
}

async function waitReady(name: string, url: string, child: ChildProcess, deadline: number): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline)
      throw new DevStartError(`${name}: ${url} did not answer ready in time; its log above says why`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Running {
  name: DevProcessName;
  child: ChildProcess;
  /** The process ended (it may still have output to give). */
  exited: Promise<void>;
  /** The process ended and its output streams closed: its last line has been handed on. */
  closed: Promise<ExitResult>;
}

/** Starts the testbed; rejects with a DevStartError (or the profile's ProfileError) when it cannot. */
export async function startDev(opts: DevOptions = {}): Promise<DevTestbed> {
  const env = opts.env ?? process.env;
  const ports: DevPorts = { ...DEFAULT_PORTS, ...opts.ports };
  const output = opts.output ?? ((line: string) => process.stdout.write(`${line}\n`));
  const color = opts.color ?? (opts.output === undefined && process.stdout.isTTY === true);
  const say = (line: string) => output(`dev   ${line}`);
  const profile = opts.profile ?? '5g-mec';
  const topology = await loadProfile(profile);
  const stateDirPath = opts.stateDir === null ? undefined : (opts.stateDir ?? stateDir(env));
  const problems = [...portClashes(ports), ...(await portProblems(ports))];
  if (problems.length > 0) throw new DevStartError(problems.join('\n'));

  const running: Running[] = [];
  let stopping = false;
  let failed: DevProcessName | undefined;
  let settle: (r: DevStopResult) => void = () => {};
  const done = new Promise<DevStopResult>((resolve) => {
    settle = resolve;
  });
  // Children get a process group of their own, so a Ctrl-C reaches the launcher alone and the stop is ordered.
  // Should the launcher itself die, they must not outlive it: on an exit it sees, it kills them here; on one it
  // cannot see (SIGKILL), the reaper does, when the pipe to it closes (reaper.ts).
  const reaper = spawn(
    process.execPath,
    [fileURLToPath(new URL('reaper.ts', import.meta.url)), String(DRAIN_SECONDS)],
    {
      stdio: ['pipe', 'ignore', 'inherit'],
      detached: true,
    },
  );
  reaper.unref();
  // A piped stdio stream is a net.Socket: unref'd, the pipe does not keep the launcher alive.
  (reaper.stdin as Socket).unref();
  const killAll = () => {
    for (const r of running)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
  };
  process.once('exit', killAll);

  let stopped: Promise<DevStopResult> | undefined;
  const stop = (reason = 'stop requested'): Promise<DevStopResult> => {
    if (stopped) return stopped;
    stopping = true;
    say(`stopping (${reason})`);
    stopped = (async () => {
      for (const name of STOP_ORDER) {
        const r = running.find((x) => x.name === name);
        if (!r || r.child.exitCode !== null || r.child.signalCode !== null) continue;
        r.child.kill('SIGTERM');
        // A child that ignores SIGTERM past its drain time is killed, so a stop always ends.
        const timer = setTimeout(() => r.child.kill('SIGKILL'), (DRAIN_SECONDS + 5) * 1000);
        await r.exited;
        clearTimeout(timer);
      }
      const results = await Promise.all(running.map((r) => r.closed));
      process.removeListener('exit', killAll);
      reaper.stdin.end();
      if (stateDirPath) removeState(stateDirPath, process.pid, ports.admin);
      const exits = Object.fromEntries(running.map((r, i) => [r.name, results[i] ?? null])) as Record<
        DevProcessName,
        ExitResult
      >;
      const clean = results.every((x) => x === 0 || x === 'SIGTERM' || x === 'SIGINT');
      const result: DevStopResult = {
        clean: clean && failed === undefined,
        exits,
        ...(failed ? { failed } : {}),
      };
      settle(result);
      return result;
    })();
    return stopped;
  };

  // A file is named by its absolute path: the children run in the repository root.
  for (const p of devProcesses(ports, PRESETS[profile] ? profile : resolve(profile), env, topology)) {
    const child = spawn(process.execPath, [p.script], {
      cwd: ROOT,
      env: { ...env, ...p.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (child.pid !== undefined) reaper.stdin.write(`${child.pid}\n`);
    const label = color ? `${COLORS[p.name]}${p.name.padEnd(5)}\x1b[0m ` : `${p.name.padEnd(5)} `;
    prefixLines(child, label, output);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    const closed = new Promise<ExitResult>((resolve) => {
      child.once('error', (err) => {
        say(`${p.name} could not be started: ${err.message}`);
        resolve(null);
      });
      child.once('close', (code, signal) => resolve(code ?? signal));
    });
    child.once('exit', (code, signal) => {
      if (stopping) return;
      failed ??= p.name;
      say(`${p.name} exited (${code ?? signal}) on its own: stopping the others`);
      void stop(`${p.name} exited`);
    });
    running.push({ name: p.name, child, exited, closed });
  }

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 20_000);
  const urls: Record<DevProcessName, string> = {
    cloud: `http://127.0.0.1:${ports.cloudRaw}/readyz`,
    edge: `http://127.0.0.1:${ports.edgeRaw}/readyz`,
    proxy: `http://127.0.0.1:${ports.admin}/readyz`,
  };
  try {
    await Promise.all(running.map((r) => waitReady(r.name, urls[r.name], r.child, deadline)));
  } catch (err) {
    await stop('start failed');
    throw err;
  }
  if (failed) {
    const result = await stop('start failed');
    throw new DevStartError(
      `${failed} exited (${result.exits[failed]}) before it was ready; its last lines above say why`,
    );
  }
  if (stateDirPath)
    writeState(stateDirPath, {
      pid: process.pid,
      ports,
      profile: topology.name,
      started: new Date().toISOString(),
    });
  const pids = Object.fromEntries(running.map((r) => [r.name, r.child.pid as number])) as Record<
    DevProcessName,
    number
  >;
  return { ports, topology, pids, stop, done };
}
