// The thin layer that runs `tc` and `ip`. ExecRunner executes them (optionally inside a network namespace,
// via their own `-n` option); RecordingRunner records what would run and answers `show` commands from a
// scripted state, for the plan's and the reconcile loop's tests. Everything decided lives in plan.ts.
import { execFile } from 'node:child_process';
import { parseObserved, parseQdiscStats, type QdiscStats, showCommands } from './observe.ts';
import { type Command, formatCommand, type ObservedTree } from './plan.ts';

export type Program = 'tc' | 'ip';

export interface CommandRunner {
  /** Runs the program (`input` on its stdin); resolves to stdout, rejects with a CommandError carrying stderr. */
  run(program: Program, args: string[], input?: string): Promise<string>;
}

export class CommandError extends Error {
  readonly program: Program;
  readonly args: string[];
  readonly stderr: string;
  readonly exitCode: number | string | undefined;
  constructor(program: Program, args: string[], stderr: string, exitCode: number | string | undefined) {
    super(
      `\`${program} ${args.join(' ')}\` failed (${exitCode ?? 'no exit code'}): ${stderr.trim() || 'no output'}`,
    );
    this.name = 'CommandError';
    this.program = program;
    this.args = args;
    this.stderr = stderr;
    this.exitCode = exitCode;
  }
}

export interface ExecRunnerOptions {
  /** Run inside this network namespace (`tc -n NS`, `ip -n NS`); the tests use it, the agent does not. */
  netns?: string;
  timeoutMs?: number;
  /** Where tc and ip live; default: PATH. */
  tcPath?: string;
  ipPath?: string;
}

export class ExecRunner implements CommandRunner {
  readonly #options: ExecRunnerOptions;
  constructor(options: ExecRunnerOptions = {}) {
    this.#options = options;
  }
  run(program: Program, args: string[], input?: string): Promise<string> {
    const { netns, timeoutMs = 10_000 } = this.#options;
    const binary = program === 'tc' ? (this.#options.tcPath ?? 'tc') : (this.#options.ipPath ?? 'ip');
    const full = netns ? ['-n', netns, ...args] : args;
    return new Promise((resolve, reject) => {
      const child = execFile(
        binary,
        full,
        { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) {
            const code = (err as NodeJS.ErrnoException & { code?: number | string }).code;
            reject(new CommandError(program, full, String(stderr) || err.message, code));
          } else resolve(String(stdout));
        },
      );
      child.stdin?.end(input);
    });
  }
}

/** `tc -batch -`: commands on stdin, one per line; tc stops at the first that fails ("Command failed -:N"). */
export const BATCH_ARGS = ['-batch', '-'];

/**
 * For the test runners: runs each line of a `tc -batch -` call through `one`, failing as tc does at the first
 * line that fails; undefined when `args` is not a batch call.
 */
export async function runBatch(
  args: readonly string[],
  input: string | undefined,
  one: (args: string[]) => Promise<string>,
): Promise<string | undefined> {
  if (args.join(' ') !== BATCH_ARGS.join(' ')) return undefined;
  const lines = (input ?? '').split('\n').filter((l) => l.trim() !== '');
  for (const [i, line] of lines.entries()) {
    try {
      await one(line.trim().split(/\s+/));
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      throw new CommandError('tc', [...args], `${err.stderr.trim()}\nCommand failed -:${i + 1}\n`, 1);
    }
  }
  return '';
}

export interface RecordedCall {
  program: Program;
  args: string[];
}

/** What the test runners share: every call recorded, and the changing tc commands among them. */
export class CallRecorder {
  readonly calls: RecordedCall[] = [];

  /** The changing tc commands recorded so far (not the `show` ones), as printed command lines. */
  changes(): string[] {
    return this.calls
      .filter((c) => c.program === 'tc' && !c.args.includes('show'))
      .map((c) => formatCommand(c.args));
  }

  clear(): void {
    this.calls.length = 0;
  }
}

/**
 * Records every call. `show` calls are answered by `respond` (default: an interface with only the kernel's
 * default root), every other call succeeds unless `fail` says otherwise.
 */
export class RecordingRunner extends CallRecorder implements CommandRunner {
  respond: (program: Program, args: string[]) => string | undefined = () => undefined;
  fail: (program: Program, args: string[]) => string | undefined = () => undefined;

  async run(program: Program, args: string[], input?: string): Promise<string> {
    const batch = await runBatch(args, input, (line) => this.run(program, line));
    if (batch !== undefined) return batch;
    this.calls.push({ program, args: [...args] });
    const stderr = this.fail(program, args);
    if (stderr !== undefined) throw new CommandError(program, args, stderr, 2);
    const answer = this.respond(program, args);
    if (answer !== undefined) return answer;
    if (program === 'tc' && args.includes('show')) {
      if (args.includes('qdisc'))
        return '[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]';
      return args.includes('class') ? '' : '[]';
    }
    return '';
  }
}

/** Reads the device's tree. */
export async function observe(runner: CommandRunner, device: string): Promise<ObservedTree> {
  const show = showCommands(device);
  const [q, c, f] = await Promise.all([
    runner.run('tc', show.qdisc),
    runner.run('tc', show.class),
    runner.run('tc', show.filter),
  ]);
  return parseObserved(q, c, f);
}

export async function qdiscStats(runner: CommandRunner, device: string): Promise<QdiscStats[]> {
  return parseQdiscStats(await runner.run('tc', showCommands(device).qdisc));
}

/**
 * Runs the commands in order and stops at the first failure (the next reconcile re-plans from what is there):
 * one `tc -batch` process for them all, since a process per command is most of a pass's time on a busy node
 * (and seconds of a profile change under emulation). A failure names the command that failed.
 */
export async function applyCommands(runner: CommandRunner, commands: readonly Command[]): Promise<void> {
  if (commands.length === 0) return;
  if (commands.length === 1) {
    await runner.run('tc', [...(commands[0] as Command)]);
    return;
  }
  try {
    await runner.run('tc', BATCH_ARGS, `${commands.map((c) => c.join(' ')).join('\n')}\n`);
  } catch (err) {
    const line = err instanceof CommandError ? /Command failed -:(\d+)/.exec(err.stderr)?.[1] : undefined;
    const failed = line ? commands[Number(line) - 1] : undefined;
    if (!failed || !(err instanceof CommandError)) throw err;
    const why = err.stderr.replace(/Command failed -:\d+\s*/, '');
    throw new CommandError('tc', [...failed], why, err.exitCode);
  }
}
