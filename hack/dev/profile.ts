// `make dev-profile PROFILE=<preset|file>`: switches the running `make dev` testbed's link profile. The profile is
// validated here first (so the error names the file and the place in it), then PUT to the link proxy, which
// validates again and swaps it in at once, or keeps the old one. The proxy is found through the state file the
// running `make dev` wrote (state.ts), so another terminal needs none of its DEV_* variables; DEV_ADMIN_PORT
// names one explicitly.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  DEFAULT_PRESET,
  loadProfile,
  PRESET_NAMES,
  PRESETS,
  ProfileError,
  predictedReduction,
  roundTripSeconds,
  type Topology,
} from '../../services/topology/index.ts';
import { runningLaunchers, stateDir } from './state.ts';
import { budgetLines, devPorts } from './wiring.ts';

/** The usage, with every preset and the round trips it predicts. */
export async function usage(): Promise<string> {
  const ms = (x: number) => `${Math.round(x * 1e4) / 10} ms`;
  const rows: string[] = [];
  for (const name of PRESET_NAMES) {
    const t = await loadProfile(name);
    const label = name === DEFAULT_PRESET ? `${name} (default)` : name;
    rows.push(
      `  ${label.padEnd(22)} round trip to the edge ${ms(roundTripSeconds(t, 'ue', 'edge'))}, to the cloud ${ms(roundTripSeconds(t, 'ue', 'cloud'))}`,
    );
  }
  return ['usage: make dev-profile PROFILE=<preset|file>', 'presets:', ...rows].join('\n');
}

/** The admin port to switch: DEV_ADMIN_PORT, else the one running `make dev`, else why there is none. */
export function adminPort(
  env: Readonly<Record<string, string | undefined>>,
): { port: number } | { error: string } {
  const { ports, errors } = devPorts(env);
  if (errors.length > 0) return { error: errors.join('\n') };
  if (env.DEV_ADMIN_PORT?.trim()) return { port: ports.admin };
  const dir = stateDir(env);
  const running = runningLaunchers(dir);
  const [only] = running;
  if (running.length === 1 && only) return { port: only.ports.admin };
  if (running.length === 0)
    return {
      error: `no \`make dev\` is running from this checkout (nothing in ${dir}): start it first, or set DEV_ADMIN_PORT to the admin port of one started elsewhere`,
    };
  return {
    error: `${running.length} \`make dev\` testbeds are running: ${running.map((s) => `admin port ${s.ports.admin} (pid ${s.pid}, profile ${s.profile})`).join(', ')}; pick one with DEV_ADMIN_PORT=<port>`,
  };
}

async function main(): Promise<number> {
  const profile = (process.argv[2] ?? '').trim();
  if (!profile) {
    console.error(await usage());
    return 2;
  }
  const found = adminPort(process.env);
  if ('error' in found) {
    console.error(`make dev-profile: ${found.error}`);
    return 1;
  }
  let url = `http://127.0.0.1:${found.port}/api/v1/profile`;
  let body: string | undefined;
  let topology: Topology;
  try {
    // Validates a preset name or a file (an unknown name lists the presets), before anything is sent.
    topology = await loadProfile(profile);
    if (PRESETS[profile]) url += `?preset=${encodeURIComponent(profile)}`;
    else body = await readFile(profile, 'utf8');
  } catch (err) {
    console.error(err instanceof ProfileError ? err.message : (err as Error).message);
    return 1;
  }
  let res: Response;
  try {
    res = await fetch(url, { method: 'PUT', ...(body === undefined ? {} : { body }) });
  } catch (err) {
    console.error(
      `cannot reach the link proxy at ${url} (${(err as Error).message}); is \`make dev\` running?`,
    );
    return 1;
  }
  const answer = (await res.json()) as { profile?: string; error?: { message: string } };
  if (!res.ok) {
    console.error(answer.error?.message ?? `HTTP ${res.status}`);
    return 1;
  }
  console.log(
    `profile ${answer.profile} in force on the link proxy at 127.0.0.1:${found.port} (reduction predicted: ${Math.round(predictedReduction(topology) * 1000) / 10}%)`,
  );
  for (const line of budgetLines(topology)) console.log(line);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
