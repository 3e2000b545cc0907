// Where the benches run the emulators (the link proxy, its variant, Toxiproxy) against everything else they
// start (the load generator, which is the bench itself, the echo server, tcpdump):
//   --rt N     the emulators under SCHED_FIFO priority N (`chrt -f N`): no other process can keep them
//              waiting for a CPU. Root or CAP_SYS_NICE.
//   --pin CPUS the emulators on CPUS (`taskset -c`), the bench and its other children on the remaining CPUs.
//              This is what a Guaranteed pod with whole CPUs gets on a node whose kubelet runs the static
//              CPU manager policy: CPUs no other pod's container is scheduled on, at normal priority.
// The pure parts (the command line, the CPU lists) are tested; pinSelf() is the one effect.
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export interface Placement {
  /** SCHED_FIFO priority of the emulators. */
  rt?: number;
  /** The emulators' CPUs, as taskset takes them ("1", "2-3"). */
  cpus?: string;
}

/**
 * An emulator's command line under its placement. chrt and taskset exec what follows them, so the pid stays
 * the emulator's (the benches read its /proc entries), and its threads inherit both settings.
 */
export function emulatorCommand(place: Placement, cmd: string, args: string[]): [string, string[]] {
  let command: [string, string[]] = [cmd, args];
  if (place.rt !== undefined) command = ['chrt', ['-f', String(place.rt), ...command.flat()]];
  if (place.cpus !== undefined) command = ['taskset', ['-c', place.cpus, ...command.flat()]];
  return command;
}

/** Parses a --rt value: a SCHED_FIFO priority, or undefined when the flag is absent. */
export function parseRt(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const rt = Number(raw);
  if (!(Number.isInteger(rt) && rt >= 1 && rt <= 99))
    throw new Error(`--rt ${raw}: expected a SCHED_FIFO priority, 1-99`);
  return rt;
}

/**
 * Parses a --pin value against the host's CPU count: the emulators' CPUs and the rest (where the bench
 * goes). Both must be non-empty: a pin that leaves the generator no CPU, or shares one, measures nothing.
 */
export function parsePin(raw: string, cpuCount: number): { emulators: number[]; rest: number[] } {
  const fail = (why: string): never => {
    throw new Error(`--pin ${raw}: ${why} (CPUs 0-${cpuCount - 1} here; e.g. --pin ${cpuCount - 1})`);
  };
  const chosen = new Set<number>();
  for (const part of raw.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) fail(`"${part}" is not a CPU number or range`);
    const from = Number(m?.[1]);
    const to = Number(m?.[2] ?? m?.[1]);
    if (to < from) fail(`the range ${part} runs backwards`);
    if (to >= cpuCount) fail(`CPU ${to} does not exist`);
    for (let c = from; c <= to; c++) chosen.add(c);
  }
  const emulators = [...chosen].sort((a, b) => a - b);
  const rest = Array.from({ length: cpuCount }, (_, c) => c).filter((c) => !chosen.has(c));
  if (rest.length === 0) fail('leaves no CPU for the load generator, the echo server and tcpdump');
  return { emulators, rest };
}

/** The placement a bench's --rt and --pin ask for; with --pin, this process moves to the other CPUs. */
export function placementFrom(flags: { rt?: string | undefined; pin?: string | undefined }): Placement {
  const place: Placement = {};
  const rt = parseRt(flags.rt);
  if (rt !== undefined) place.rt = rt;
  if (flags.pin !== undefined) {
    const { emulators, rest } = parsePin(flags.pin, os.availableParallelism());
    pinSelf(rest);
    place.cpus = emulators.join(',');
  }
  return place;
}

/** How a bench's header says where the emulators ran ('' when nothing was asked). */
export function describePlacement(place: Placement): string {
  const parts: string[] = [];
  if (place.rt !== undefined) parts.push(`emulators at SCHED_FIFO ${place.rt}`);
  if (place.cpus !== undefined) parts.push(`emulators pinned to CPU ${place.cpus}, everything else off it`);
  return parts.map((p) => `; ${p}`).join('');
}

/**
 * Moves every thread of this process to `cpus` (taskset -a -p). Children started afterwards inherit it:
 * the echo server and tcpdump, and the emulators until their own taskset moves them.
 */
function pinSelf(cpus: number[]): void {
  const r = spawnSync('taskset', ['-a', '-p', '-c', cpus.join(','), String(process.pid)], {
    encoding: 'utf8',
  });
  if (r.error || r.status !== 0)
    throw new Error(`--pin: taskset could not move this process: ${r.error?.message ?? r.stderr.trim()}`);
}
