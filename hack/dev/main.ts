// `make dev`: the Docker-free testbed on this machine, as the UE sees it.
//
//   UE (you, curl, k6)                      link proxy (userspace)                   services (raw ports)
//   http://127.0.0.1:8081 ──ue->edge──────▶ [ue-edge] ──────────────────────────▶ edge  127.0.0.1:9081
//   http://127.0.0.1:8082 ──ue->cloud─────▶ [ue-edge]─[edge-cloud] ─────────────▶ cloud 127.0.0.1:9082
//   edge's CLOUD_URL 127.0.0.1:9181 ─edge->cloud─▶ [edge-cloud] ────────────────▶ cloud 127.0.0.1:9082
//
// One terminal: every line of every process, prefixed with its name. Ctrl-C (or SIGTERM) stops them all,
// each given SHUTDOWN_TIMEOUT_SECONDS to drain. `make dev-profile PROFILE=<name|file>` switches the profile
// while it runs. Ports can be moved with DEV_* variables (the tests use free ones).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  formatDuration,
  loadProfile,
  ProfileError,
  predictedReduction,
  requestBudget,
  type Topology,
} from '../../services/topology/index.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface DevPorts {
  edge: number; // UE-facing, through ue->edge
  cloud: number; // UE-facing, through ue->cloud
  edgeRaw: number;
  cloudRaw: number;
  edgeToCloud: number; // the edge's CLOUD_URL, through edge->cloud
  admin: number; // the proxy's admin API
}

export const DEFAULT_PORTS: DevPorts = {
  edge: 8081,
  cloud: 8082,
  edgeRaw: 9081,
  cloudRaw: 9082,
  edgeToCloud: 9181,
  admin: 8474,
};

const PORT_VARS: Record<keyof DevPorts, string> = {
  edge: 'DEV_EDGE_PORT',
  cloud: 'DEV_CLOUD_PORT',
  edgeRaw: 'DEV_EDGE_RAW_PORT',
  cloudRaw: 'DEV_CLOUD_RAW_PORT',
  edgeToCloud: 'DEV_EDGE_CLOUD_PORT',
  admin: 'DEV_ADMIN_PORT',
};

/** Ports from the environment, validated: every bad one is named at once. Pure. */
export function devPorts(env: Readonly<Record<string, string | undefined>>): {
  ports: DevPorts;
  errors: string[];
} {
  const ports = { ...DEFAULT_PORTS };
  const errors: string[] = [];
  for (const [key, name] of Object.entries(PORT_VARS) as Array<[keyof DevPorts, string]>) {
    const raw = env[name]?.trim();
    if (!raw) continue;
    const n = Number(raw);
    if (/^\d+$/.test(raw) && n >= 1 && n <= 65535) ports[key] = n;
    else errors.push(`${name}=${JSON.stringify(raw)} is invalid: expected a port from 1 to 65535`);
  }
  const used = Object.values(ports);
  if (new Set(used).size !== used.length)
    errors.push(`DEV_*_PORT: two services would share a port (${used.join(', ')})`);
  return { ports, errors };
}

export interface DevProcess {
  name: string;
  script: string;
  env: Record<string, string>;
}

/** The processes `make dev` runs, with their environment. Pure, so the wiring is tested without spawning. */
export function devProcesses(
  ports: DevPorts,
  profile: string,
  env: Readonly<Record<string, string | undefined>>,
): DevProcess[] {
  const common = { HOST: '127.0.0.1', LOG_LEVEL: env.LOG_LEVEL ?? 'info', SHUTDOWN_TIMEOUT_SECONDS: '5' };
  const routes = [
    `127.0.0.1:${ports.edge}=ue->edge=127.0.0.1:${ports.edgeRaw}`,
    `127.0.0.1:${ports.cloud}=ue->cloud=127.0.0.1:${ports.cloudRaw}`,
    `127.0.0.1:${ports.edgeToCloud}=edge->cloud=127.0.0.1:${ports.cloudRaw}`,
  ];
  return [
    { name: 'cloud', script: 'services/cloud/main.ts', env: { ...common, PORT: String(ports.cloudRaw) } },
    {
      name: 'edge',
      script: 'services/edge/main.ts',
      env: { ...common, PORT: String(ports.edgeRaw), CLOUD_URL: `http://127.0.0.1:${ports.edgeToCloud}` },
    },
    {
      name: 'proxy',
      script: 'services/link-proxy/main.ts',
      env: {
        ...common,
        PROFILE: profile,
        ROUTES: routes.join(','),
        ADMIN_HOST: '127.0.0.1',
        ADMIN_PORT: String(ports.admin),
      },
    },
  ];
}

/** What the profile predicts the UE will see: the budget users should compare their measurements with. */
export function budgetLines(t: Topology): string[] {
  const ms = (s: number) => formatDuration(s);
  return (['edge', 'cloud'] as const).map((site) => {
    const b = requestBudget(t, 'ue', site);
    return `  ue -> ${site.padEnd(5)} one way ${ms(b.oneWaySeconds)}, round trip ${ms(b.roundTripSeconds)}; a request costs ${ms(b.reusedConnectionSeconds)} on a reused connection, ${ms(b.newConnectionSeconds)} on a new one (+ processing)`;
  });
}

const COLORS = ['\x1b[36m', '\x1b[35m', '\x1b[33m'];

function prefixLines(child: ChildProcess, label: string, color: string): void {
  const tty = process.stdout.isTTY;
  const prefix = tty ? `${color}${label}\x1b[0m ` : `${label} `;
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
    });
    stream?.on('end', () => {
      if (rest) process.stdout.write(`${prefix}${rest}\n`);
    });
  }
}

async function waitReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited before ${url} was ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${url} not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main(): Promise<number> {
  const env = process.env;
  const profile = env.PROFILE?.trim() || '5g-mec';
  const { ports, errors } = devPorts(env);
  if (errors.length > 0) {
    console.error(`make dev: invalid configuration:\n  ${errors.join('\n  ')}`);
    return 1;
  }
  let topology: Topology;
  try {
    topology = await loadProfile(profile);
  } catch (err) {
    console.error(`make dev: ${err instanceof ProfileError ? err.message : (err as Error).message}`);
    return 1;
  }

  const children: Array<{ name: string; child: ChildProcess }> = [];
  let stopping = false;
  let failed = false;
  const exited = new Map<string, Promise<number | string | null>>();
  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`dev   stopping (${why})`);
    for (const { child } of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    // A child that ignores SIGTERM past its drain time is killed, so Ctrl-C always ends the session.
    setTimeout(() => {
      for (const { child } of children)
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, 10_000).unref();
  };
  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));

  devProcesses(ports, profile, env).forEach((p, i) => {
    const child = spawn(process.execPath, [p.script], {
      cwd: ROOT,
      env: { ...env, ...p.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const label = p.name.padEnd(5);
    prefixLines(child, label, COLORS[i % COLORS.length] as string);
    children.push({ name: p.name, child });
    exited.set(
      p.name,
      new Promise((resolve) =>
        child.on('exit', (code, signal) => {
          if (!stopping) {
            failed = true;
            console.log(`dev   ${p.name} exited (${code ?? signal}) on its own: stopping the others`);
            stopAll(`${p.name} exited`);
          }
          resolve(code ?? signal);
        }),
      ),
    );
  });

  try {
    const [cloud, edge, proxy] = children.map((c) => c.child) as [ChildProcess, ChildProcess, ChildProcess];
    await Promise.all([
      waitReady(`http://127.0.0.1:${ports.cloudRaw}/readyz`, cloud, 20_000),
      waitReady(`http://127.0.0.1:${ports.edgeRaw}/readyz`, edge, 20_000),
      waitReady(`http://127.0.0.1:${ports.admin}/readyz`, proxy, 20_000),
    ]);
    console.log(
      [
        '',
        `dev   ready, profile ${topology.name} (reduction predicted: ${Math.round(predictedReduction(topology) * 1000) / 10}%)`,
        `  edge  through ue->edge : http://127.0.0.1:${ports.edge}/api/v1/echo    (raw: http://127.0.0.1:${ports.edgeRaw})`,
        `  cloud through ue->cloud: http://127.0.0.1:${ports.cloud}/api/v1/echo    (raw: http://127.0.0.1:${ports.cloudRaw})`,
        `  edge -> cloud fetches cross edge->cloud via 127.0.0.1:${ports.edgeToCloud}`,
        `  link proxy admin: http://127.0.0.1:${ports.admin}/api/v1/links  /metrics`,
        ...budgetLines(topology),
        '  switch profile: make dev-profile PROFILE=<preset|file>    stop: Ctrl-C',
        '',
      ].join('\n'),
    );
  } catch (err) {
    console.error(`dev   start failed: ${(err as Error).message}`);
    failed = true;
    stopAll('start failed');
  }

  const results = await Promise.all(exited.values());
  const clean = results.every((r) => r === 0 || r === 'SIGTERM' || r === 'SIGINT');
  console.log(`dev   stopped${clean ? '' : ` (exits: ${results.join(', ')})`}`);
  return failed || !clean ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main();
}
