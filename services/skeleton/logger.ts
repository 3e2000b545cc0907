// Structured logs: one JSON object per line on stdout, so `kubectl logs`, `make dev` and log shippers read the
// same thing. Kept tiny on purpose (no dependency): a level filter and bound fields.
import { writeSync } from 'node:fs';
import type { LogLevel } from './config.ts';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

// stdout to a file or pipe is a synchronous syscall per write in Node; at thousands of requests per second one
// syscall per log line costs more than the request itself. Lines are batched per event-loop turn instead, and
// flushed synchronously on exit so nothing logged before process.exit() is lost.
let pending: string[] = [];
let scheduled = false;
function flush(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const bytes = Buffer.from(pending.join(''));
  pending = [];
  try {
    // writeSync may write less than asked (pipes): go on until everything is out.
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(1, bytes, offset);
  } catch {
    // stdout closed or full (EAGAIN on a non-blocking pipe): drop rather than crash the service over a log line.
  }
}
process.on('exit', flush);

const stdoutSink: LogSink = (line) => {
  pending.push(`${line}\n`);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
};

export function createLogger(level: LogLevel, bound: LogFields = {}, sink: LogSink = stdoutSink): Logger {
  const threshold = ORDER[level];
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < threshold) return;
    const entry: LogFields = { time: new Date().toISOString(), level: lvl, msg, ...bound, ...fields };
    if (entry.err instanceof Error) entry.err = { name: entry.err.name, message: entry.err.message };
    sink(JSON.stringify(entry));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger(level, { ...bound, ...fields }, sink),
  };
}

/** A logger that drops everything, for tests that do not look at logs. */
export const silentLogger: Logger = createLogger('error', {}, () => {});
