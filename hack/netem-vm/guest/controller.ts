// Runs inside the netem VM, started by /init: dials the host's control port over qemu's user network and runs
// what the host asks (protocol.ts), each program as a child process, inside a site's network namespace when
// asked. Everything decided (the wiring, the measurements) lives on the host; this only executes and reports.
// When the connection ends (the host stopped or died), every child is killed and the VM powers off.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { lineReader, type Report, type Request } from '../protocol.ts';

const MAX_COLLECTED = 16 * 1024 * 1024;
const children = new Map<number, ChildProcess>();
let socket: net.Socket;

function send(report: Report): void {
  socket.write(`${JSON.stringify(report)}\n`);
}

function run(req: Extract<Request, { op: 'spawn' }>): void {
  const argv = req.netns ? ['/sbin/ip', 'netns', 'exec', req.netns, ...req.argv] : req.argv;
  const [file, ...args] = argv;
  let child: ChildProcess;
  try {
    child = spawn(file ?? '', args, {
      env: {
        PATH: '/bin:/sbin:/usr/local/bin',
        HOME: '/root',
        ...(process.env.NODE_COMPILE_CACHE ? { NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE } : {}),
        ...req.env,
      },
      stdio: [req.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    send({ id: req.id, event: 'exit', code: null, signal: null, error: (err as Error).message });
    return;
  }
  children.set(req.id, child);
  const collected = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child[stream];
    if (!source) continue;
    if (req.stream)
      source.on(
        'data',
        lineReader((line) => send({ id: req.id, event: 'output', stream, line })),
      );
    else
      source.on('data', (chunk: Buffer) => {
        if (collected[stream].length < MAX_COLLECTED) collected[stream] += chunk.toString();
      });
  }
  let spawnError: string | undefined;
  child.on('error', (err) => {
    spawnError = err.message;
  });
  child.on('close', (code, signal) => {
    children.delete(req.id);
    send({
      id: req.id,
      event: 'exit',
      code,
      signal,
      ...(req.stream ? {} : collected),
      ...(spawnError ? { error: spawnError } : {}),
    });
  });
}

function handle(line: string): void {
  const req = JSON.parse(line) as Request;
  if (req.op === 'spawn') run(req);
  else if (req.op === 'kill') children.get(req.id)?.kill(req.signal);
  else if (req.op === 'input') children.get(req.id)?.stdin?.write(req.data);
  else if (req.op === 'write') {
    try {
      mkdirSync(dirname(req.path), { recursive: true });
      writeFileSync(req.path, Buffer.from(req.data, 'base64'), { mode: req.mode });
      send({ id: req.id, event: 'exit', code: 0, signal: null });
    } catch (err) {
      send({ id: req.id, event: 'exit', code: 1, signal: null, error: (err as Error).message });
    }
  } else if (req.op === 'poweroff') shutdown(0);
}

function shutdown(code: number): void {
  for (const child of children.values()) child.kill('SIGKILL');
  socket.end(() => process.exit(code));
  setTimeout(() => process.exit(code), 1000).unref();
}

if (import.meta.main) {
  const [host = '10.0.2.2', port = ''] = process.argv.slice(2);
  socket = net.connect(Number(port), host);
  socket.setNoDelay(true);
  socket.on('connect', () =>
    send({
      event: 'hello',
      uptimeSeconds: Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]),
      node: process.version,
      kernel: readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim(),
    }),
  );
  socket.on('data', lineReader(handle));
  socket.on('error', (err) => {
    process.stderr.write(`netem-vm controller: ${err.message}\n`);
    shutdown(1);
  });
  socket.on('close', () => shutdown(0));
}
