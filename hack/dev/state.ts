// Where a running `make dev` says which ports it listens on, so `make dev-profile` in another terminal (without
// its DEV_* variables) switches that testbed and no other: one small JSON file per running testbed in .cache/dev/
// (DEV_STATE_DIR elsewhere), removed when it stops; a file whose process is gone is ignored and removed.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DevPorts } from './wiring.ts';

export interface DevState {
  pid: number;
  ports: DevPorts;
  profile: string;
  started: string;
}

export function stateDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env.DEV_STATE_DIR || fileURLToPath(new URL('../../.cache/dev/', import.meta.url));
}

const fileOf = (dir: string, pid: number, admin: number) => join(dir, `${pid}-${admin}.json`);

export function writeState(dir: string, state: DevState): string {
  mkdirSync(dir, { recursive: true });
  const file = fileOf(dir, state.pid, state.ports.admin);
  writeFileSync(file, `${JSON.stringify(state)}\n`);
  return file;
}

export function removeState(dir: string, pid: number, admin: number): void {
  rmSync(fileOf(dir, pid, admin), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The launchers that still run, oldest first; the files of those that died are removed. */
export function runningLaunchers(dir: string): DevState[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^\d+-\d+\.json$/.test(n));
  } catch {
    return [];
  }
  const states: DevState[] = [];
  for (const name of names) {
    try {
      const state = JSON.parse(readFileSync(join(dir, name), 'utf8')) as DevState;
      if (alive(state.pid)) states.push(state);
      else rmSync(join(dir, name), { force: true });
    } catch {
      rmSync(join(dir, name), { force: true });
    }
  }
  return states.sort((a, b) => a.started.localeCompare(b.started));
}
