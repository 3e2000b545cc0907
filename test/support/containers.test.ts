// ContainerScope: a container whose start fails after Docker created it is removed with the rest, and a start still
// running when cleanup begins is waited for and removed too.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ContainerScope, loadTestcontainers } from './containers.ts';
import { commandWorks, docker, skipUnless } from './requirements.ts';

const { GenericContainer, Network, Wait } = await loadTestcontainers();
const image = `mec-testbed/cloud:${process.env.IMAGE_TAG ?? 'dev'}`;

describe('ContainerScope', {
  skip: skipUnless(
    () =>
      docker() ?? commandWorks('docker', ['image', 'inspect', image], `the ${image} image (make images)`)(),
  ),
}, () => {
  const scope = new ContainerScope('mec-test-scope');
  after(() => scope.cleanup());

  it('removes every container it started, including one whose start failed after it was created', async () => {
    const network = await scope.network(new Network());
    const ok = await scope.start(
      new GenericContainer(image)
        .withNetwork(network)
        .withWaitStrategy(Wait.forLogMessage(/"msg":"listening"/)),
    );
    // `docker start` fails (no such executable) after `docker create` succeeded: testcontainers leaves it created.
    await assert.rejects(scope.start(new GenericContainer(image).withEntrypoint(['/no/such/binary'])));
    // A start still running when cleanup begins.
    const slow = scope.start(
      new GenericContainer(image).withWaitStrategy(Wait.forLogMessage(/"msg":"listening"/)),
    );
    assert.ok((await scope.leftovers()).length >= 2, 'the running one and the failed one exist');
    await scope.cleanup();
    await slow.catch(() => undefined);
    assert.deepEqual(await scope.leftovers(), [], 'nothing of the scope is left in Docker');
    assert.ok(ok.getId());
  });
});
