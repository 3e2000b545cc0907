// testcontainers as our container tests load it, and checks run inside our service containers (they have node
// and no shell).
import assert from 'node:assert/strict';
import type { StartedTestContainer } from 'testcontainers';

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
