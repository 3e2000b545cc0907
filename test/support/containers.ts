// testcontainers as our container tests load it, and checks run inside our service containers (they have node
// and no shell).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { GenericContainer, Network, StartedNetwork, StartedTestContainer } from 'testcontainers';

export type { StartedNetwork, StartedTestContainer } from 'testcontainers';

/**
 * testcontainers with the settings this machine needs: it cannot pull its helper images here, so no Ryuk (the
 * tests clean up after themselves) and no host-probing container. The settings are read when the module loads,
 * hence a dynamic import after setting them; a user's own values win.
 */
export async function loadTestcontainers(): Promise<typeof import('testcontainers')> {
  process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
  return import('testcontainers');
}

/**
 * Who the container's process runs as and what writing under /app gives: the cluster runs every service as
 * uid/gid 1000 with a read-only root filesystem, so the expected answer is { uid: 1000, gid: 1000, write: 'EROFS' }.
 */
export async function processIdentity(container: StartedTestContainer): Promise<unknown> {
  const probe = await container.exec([
    'node',
    '-e',
    "const fs=require('fs');let ro='no';try{fs.writeFileSync('/app/x','x')}catch(e){ro=e.code}" +
      ';console.log(JSON.stringify({uid:process.getuid(),gid:process.getgid(),write:ro}))',
  ]);
  assert.equal(probe.exitCode, 0, probe.output);
  return JSON.parse(probe.stdout.trim());
}

const execFileAsync = promisify(execFile);

/** The label that ties a container to the ContainerScope that started it. */
export const SCOPE_LABEL = 'dev.mec-testbed.test-scope';

/**
 * Everything a test file starts in Docker, removed together by `cleanup()` whatever happened: containers that
 * started, starts still running when a hook gave up (awaited first), and containers that were created but never
 * became ready. testcontainers removes a container whose wait strategy fails, but not one whose `docker start`
 * itself failed after the create (a bad command, a port taken, a missing mount): every container gets the scope's
 * label, and whatever still carries it at cleanup is removed by force. Networks go last.
 */
export class ContainerScope {
  readonly id: string;
  private readonly started: StartedTestContainer[] = [];
  private readonly networks: StartedNetwork[] = [];
  private readonly pending = new Set<Promise<unknown>>();

  constructor(name: string) {
    this.id = `${name}-${process.pid}-${Date.now().toString(36)}`;
  }

  async start(container: GenericContainer): Promise<StartedTestContainer> {
    const starting = container.withLabels({ [SCOPE_LABEL]: this.id }).start();
    this.pending.add(starting);
    try {
      const c = await starting;
      this.started.push(c);
      return c;
    } finally {
      this.pending.delete(starting);
    }
  }

  async network(network: Network): Promise<StartedNetwork> {
    const n = await network.start();
    this.networks.push(n);
    return n;
  }

  /** The ids of this scope's containers Docker still has, in any state. */
  async leftovers(): Promise<string[]> {
    const { stdout } = await execFileAsync('docker', [
      'ps',
      '-aq',
      '--filter',
      `label=${SCOPE_LABEL}=${this.id}`,
    ]);
    return stdout.split('\n').filter(Boolean);
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    for (const c of this.started.splice(0).reverse()) await c.stop({ timeout: 5 }).catch(() => undefined);
    const left = await this.leftovers().catch(() => []);
    if (left.length > 0) await execFileAsync('docker', ['rm', '-f', '-v', ...left]).catch(() => undefined);
    for (const n of this.networks.splice(0).reverse()) await n.stop().catch(() => undefined);
  }
}
