// The host side of the netem VM: builds (or finds cached) the base with build.sh, packs the application
// (app.ts), boots qemu under software emulation (TCG: this machine's KVM does not boot a stock kernel) with
// qemu's user network, and drives the guest controller over the control connection the guest dials back
// (the host's loopback is 10.0.2.2 inside). Files and processes are named netem-vm; stop() removes them.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Requirement } from '../../test/support/requirements.ts';
import { type ArchiveEntry, appArchive } from './app.ts';
import { lineReader, type Report, type Request } from './protocol.ts';

const execFileAsync = promisify(execFile);
export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CONTROLLER = 'hack/netem-vm/guest/controller.ts';
/** Where the guest's Node finds the compile cache made on the host (guest/init exports it). */
const GUEST_COMPILE_CACHE = 'var/cache/netem-vm-node';

/** What the VM needs on this machine (the base itself is built on demand by build.sh). */
export const netemVmHost: Requirement = () => {
  const missing = [
    ['/usr/bin/qemu-system-x86_64', 'qemu-system-x86'],
    ['/bin/busybox', 'busybox-static'],
    ['/usr/bin/cpio', 'cpio'],
    ['/usr/bin/apt-cache', 'apt'],
  ].filter(([path]) => !existsSync(path as string));
  if (missing.length > 0)
    return `Debian packages ${missing.map(([, p]) => p).join(' ')} for the netem VM (apt-get install --no-install-recommends ${missing.map(([, p]) => p).join(' ')})`;
  return undefined;
};

/** Builds or finds the cached base (kernel + initramfs); resolves to its directory. */
export async function buildBase(): Promise<string> {
  const { stdout } = await execFileAsync(join(repoRoot, 'hack/netem-vm/build.sh'), [], {
    maxBuffer: 1024 * 1024,
    timeout: 600_000,
  });
  return stdout.trim().split('\n').at(-1) as string;
}

/**
 * V8's compile cache for `entries`, made on the host by the Node binary the guest runs: Node keys it by absolute
 * path and checks each entry against the source, and the application sits at the same path in the guest. It
 * spares each guest process most of its start-up (the link agent loads about 1,000 modules, ~15x slower under TCG).
 */
export async function compileCache(entries: readonly string[], dir: string): Promise<ArchiveEntry[]> {
  const { stdout } = await execFileAsync(join(repoRoot, 'hack/images/node-binary.sh'), [], {
    timeout: 600_000,
  });
  const urls = entries.map((e) => pathToFileURL(join(repoRoot, e)).href);
  await execFileAsync(
    join(stdout.trim(), 'node'),
    [
      '--input-type=module',
      '-e',
      'const m = await import("node:module"); for (const u of JSON.parse(process.argv[1])) await import(u); m.flushCompileCache();',
      JSON.stringify(urls),
    ],
    { env: { ...process.env, NODE_COMPILE_CACHE: dir }, timeout: 300_000 },
  );
  const files: ArchiveEntry[] = [];
  const walk = (at: string) => {
    for (const e of readdirSync(at, { withFileTypes: true })) {
      const full = join(at, e.name);
      if (e.isDirectory()) walk(full);
      else
        files.push({
          path: `${GUEST_COMPILE_CACHE}/${relative(dir, full)}`,
          mode: 0o100644,
          data: readFileSync(full),
        });
    }
  };
  walk(dir);
  return files;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

export interface GuestProcess {
  exited: Promise<ExecResult>;
  kill(signal?: NodeJS.Signals): void;
  /** Writes to its stdin (spawned with `stdin: true`). */
  input(data: string): void;
}

export interface SpawnOptions {
  netns?: string;
  env?: Record<string, string>;
  /** Called with each output line as it arrives (the host's clock is the one that matters). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Keep stdin open for input(). */
  stdin?: boolean;
}

export interface VmOptions {
  /** Repository-relative entry points the guest runs besides its controller (their imports come along). */
  entries: readonly string[];
  memoryMiB?: number;
  /**
   * Guest CPUs (default 2): qemu runs each on a host thread (multi-threaded TCG), so the three agents reacting
   * to one profile change do not queue for a single emulated CPU (about half the time to follow a change).
   */
  cpus?: number;
  bootTimeoutMs?: number;
  /** The guest console (kernel messages, /init, children's stray output). */
  onConsole?: (line: string) => void;
  /** Progress of the start, one line per step. */
  onProgress?: (message: string) => void;
}

export class NetemVm {
  readonly #qemu: ChildProcess;
  readonly #dir: string;
  readonly #socket: net.Socket;
  readonly #server: net.Server;
  readonly #waiting = new Map<number, (r: Extract<Report, { id: number }>) => void>();
  #nextId = 1;
  #exited: Promise<unknown>;
  readonly bootSeconds: number;
  readonly kernel: string;

  private constructor(
    qemu: ChildProcess,
    dir: string,
    server: net.Server,
    socket: net.Socket,
    hello: Extract<Report, { event: 'hello' }>,
  ) {
    this.#qemu = qemu;
    this.#dir = dir;
    this.#server = server;
    this.#socket = socket;
    this.bootSeconds = hello.uptimeSeconds;
    this.kernel = hello.kernel;
    this.#exited = once(qemu, 'exit');
    socket.on(
      'data',
      lineReader((line) => {
        const report = JSON.parse(line) as Report;
        if ('id' in report) this.#waiting.get(report.id)?.(report);
      }),
    );
  }

  static async start(options: VmOptions): Promise<NetemVm> {
    const started = Date.now();
    const progress = (m: string) =>
      options.onProgress?.(`+${((Date.now() - started) / 1000).toFixed(1)} s ${m}`);
    const base = await buildBase();
    progress(`base ${base}`);
    const dir = mkdtempSync(join(tmpdir(), 'netem-vm-'));
    const server = net.createServer();
    let qemu: ChildProcess | undefined;
    try {
      // The kernel unpacks concatenated cpio archives in order: the base, then the application over it.
      const initrd = join(dir, 'initrd.cpio');
      copyFileSync(join(base, 'base.cpio'), initrd);
      const entries = [CONTROLLER, ...options.entries];
      const cache = await compileCache(entries, join(dir, 'compile-cache'));
      progress(`compile cache made (${cache.length} files)`);
      const app = appArchive(repoRoot, entries, cache);
      const out = createWriteStream(initrd, { flags: 'a' });
      out.end(app.archive);
      await once(out, 'close');
      progress(`application packed (${app.files} files, ${(app.archive.length / 1e6).toFixed(0)} MB)`);

      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as net.AddressInfo).port;
      const connected = once(server, 'connection') as Promise<[net.Socket]>;
      qemu = spawn(
        'qemu-system-x86_64',
        [
          '-name',
          'netem-vm',
          '-accel',
          'tcg',
          '-cpu',
          'max',
          '-smp',
          String(options.cpus ?? 2),
          '-m',
          String(options.memoryMiB ?? 2048),
          '-kernel',
          join(base, 'vmlinux'),
          '-initrd',
          initrd,
          '-append',
          `console=ttyS0 quiet panic=-1 netem_vm.control=${port}`,
          '-display',
          'none',
          '-monitor',
          'none',
          '-serial',
          'stdio',
          '-no-reboot',
          '-nic',
          'user,model=e1000',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      progress('qemu started');
      const consoleLog = createWriteStream(join(dir, 'console.log'));
      const onConsole = options.onConsole;
      qemu.stdout?.on('data', (chunk: Buffer) => consoleLog.write(chunk));
      if (onConsole)
        qemu.stdout?.on(
          'data',
          lineReader((l) => onConsole(l.replace(/\r$/, ''))),
        );
      qemu.stderr?.on('data', (chunk: Buffer) => consoleLog.write(chunk));
      const failed = once(qemu, 'exit').then(([code]) => {
        throw new Error(
          `qemu exited (${code}) before the guest called back; console: ${join(dir, 'console.log')}`,
        );
      });
      const timeoutMs = options.bootTimeoutMs ?? 180_000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the guest did not call back within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        const [socket] = await Promise.race([connected, failed, timeout]);
        socket.setNoDelay(true);
        progress('guest called back');
        const hello = await Promise.race([
          new Promise<Extract<Report, { event: 'hello' }>>((resolveHello) => {
            socket.once(
              'data',
              lineReader((l) => resolveHello(JSON.parse(l))),
            );
          }),
          failed,
          timeout,
        ]);
        return new NetemVm(qemu, dir, server, socket, hello);
      } finally {
        clearTimeout(timer);
        failed.catch(() => undefined);
      }
    } catch (err) {
      qemu?.kill('SIGKILL');
      server.close();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Starts a program in the guest. */
  spawn(argv: readonly string[], options: SpawnOptions = {}): GuestProcess {
    const id = this.#nextId++;
    const stream = options.onLine !== undefined;
    const exited = new Promise<ExecResult>((resolveExit) => {
      this.#waiting.set(id, (report) => {
        if (report.event === 'output') options.onLine?.(report.line, report.stream);
        else if (report.event === 'exit') {
          this.#waiting.delete(id);
          resolveExit({
            code: report.code,
            signal: report.signal,
            stdout: report.stdout ?? '',
            stderr: (report.stderr ?? '') + (report.error ? `\n${report.error}` : ''),
          });
        }
      });
    });
    this.#send({
      id,
      op: 'spawn',
      argv: [...argv],
      ...(options.netns ? { netns: options.netns } : {}),
      ...(options.env ? { env: options.env } : {}),
      stream,
      ...(options.stdin ? { stdin: true } : {}),
    });
    return {
      exited,
      kill: (signal = 'SIGTERM') => this.#send({ id, op: 'kill', signal }),
      input: (data) => this.#send({ id, op: 'input', data }),
    };
  }

  /** Writes a file in the guest. */
  async writeFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
    const id = this.#nextId++;
    const done = new Promise<Extract<Report, { event: 'exit' }>>((resolveWrite) => {
      this.#waiting.set(id, (report) => {
        if (report.event !== 'exit') return;
        this.#waiting.delete(id);
        resolveWrite(report);
      });
    });
    this.#send({ id, op: 'write', path, data: Buffer.from(data).toString('base64'), mode });
    const report = await done;
    if (report.code !== 0) throw new Error(`cannot write ${path} in the VM: ${report.error}`);
  }

  /** Runs a program to completion; rejects when it fails, with its stderr. */
  async run(argv: readonly string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<string> {
    const result = await this.exec(argv, options);
    if (result.code !== 0)
      throw new Error(
        `\`${argv.join(' ')}\`${options.netns ? ` in ${options.netns}` : ''} failed (${result.code ?? result.signal}): ${result.stderr.trim()}`,
      );
    return result.stdout;
  }

  /** Runs a program to completion (killed after timeoutMs, default 120 s). */
  async exec(
    argv: readonly string[],
    options: SpawnOptions & { timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const child = this.spawn(argv, options);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    try {
      return await child.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Powers the guest off (qemu is killed if it lingers) and removes the run's files. */
  async stop(): Promise<void> {
    if (this.#qemu.exitCode === null && this.#qemu.signalCode === null) {
      this.#send({ id: 0, op: 'poweroff' });
      const lingering = setTimeout(() => this.#qemu.kill('SIGKILL'), 15_000);
      await this.#exited;
      clearTimeout(lingering);
    }
    this.#socket.destroy();
    this.#server.close();
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #send(request: Request): void {
    if (!this.#socket.destroyed) this.#socket.write(`${JSON.stringify(request)}\n`);
  }
}
