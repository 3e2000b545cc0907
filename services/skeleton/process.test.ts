// The service as a real process: a bad config exits 1 naming the variable; SIGTERM drains (an in-flight request
// completes, new connections are refused) and the process exits 0.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeGrayPng, syntheticImage } from '../workloads/inspect/synthetic.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function spawnService(
  service: 'edge' | 'cloud',
  env: Record<string, string>,
): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [`services/${service}/main.ts`], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: 'pipe',
  });
}

/** Resolves with the first JSON log line of `child` whose msg is `msg`. */
function waitForLog(
  child: ChildProcessWithoutNullStreams,
  msg: string,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${msg}" log line within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (data: Buffer) => {
      buffered += data.toString();
      let newline = buffered.indexOf('\n');
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry.msg === msg) {
            clearTimeout(timer);
            child.stdout.off('data', onData);
            resolve(entry);
            return;
          }
        } catch {
          // not a log line
        }
      }
    };
    child.stdout.on('data', onData);
  });
}

function exitOf(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('service process', () => {
  it('a bad configuration exits 1 with a message naming each bad variable and what is allowed', async () => {
    const child = spawnService('edge', { PORT: 'eighty', CLOUD_URL: 'ftp://cloud', LOG_LEVEL: 'chatty' });
    const { code, stderr } = await exitOf(child);
    assert.equal(code, 1);
    assert.match(stderr, /edge: invalid configuration, not starting/);
    assert.match(stderr, /PORT="eighty" is invalid: expected a whole number from 0 to 65535/);
    assert.match(stderr, /CLOUD_URL="ftp:\/\/cloud" is invalid: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(stderr, /LOG_LEVEL="chatty" is invalid: expected one of debug, info, warn, error/);
  });

  it('SIGTERM: readiness drops, an in-flight request completes, new connections are refused, exit 0', async () => {
    const child = spawnService('cloud', { PORT: '0', HOST: '127.0.0.1', SHUTDOWN_TIMEOUT_SECONDS: '20' });
    const exited = exitOf(child);
    try {
      const listening = await waitForLog(child, 'listening');
      const port = listening.port as number;

      // An inspect request whose body is only half sent: in flight when SIGTERM arrives.
      const body = encodeGrayPng(syntheticImage({ width: 200, height: 100, defects: 2, seed: 5 }));
      const socket = connect(port, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      const response = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (d) => {
          text += d.toString('latin1');
        });
        socket.on('close', () => resolve(text));
      });
      socket.write(
        `POST /api/v1/inspect HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body.subarray(0, 100));
      await new Promise((r) => setTimeout(r, 200));

      const draining = waitForLog(child, 'draining');
      child.kill('SIGTERM');
      await draining;

      await assert.rejects(
        new Promise((resolve, reject) => {
          const probe = connect(port, '127.0.0.1');
          probe.once('connect', () => {
            probe.destroy();
            resolve('connected');
          });
          probe.once('error', reject);
        }),
        (err: NodeJS.ErrnoException) => err.code === 'ECONNREFUSED',
      );

      // write, not end: node's server (httpAllowHalfOpen false) drops a request whose client half-closes before
      // an asynchronous handler (inspect decodes off the event loop) has answered.
      socket.write(body.subarray(100));
      const text = await response;
      assert.match(text, /^HTTP\/1.1 200 /);
      assert.match(text, /connection: close/i);
      assert.match(text, /"verdict":"fail"/);
      const { code } = await exited;
      assert.equal(code, 0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
