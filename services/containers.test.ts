// Container tests: the built images (hack/images/build.sh makes them, from a local base here) run with the
// settings the cluster uses (uid 1000, read-only root, all capabilities dropped, no-new-privileges) on one
// Docker network: an edge cache miss reaches the cloud, a hit does not, metrics are scraped from both.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  ContainerScope,
  loadTestcontainers,
  processIdentity,
  type StartedTestContainer,
} from '../test/support/containers.ts';
import { imageRef } from '../test/support/images.ts';
import { docker, skipUnless } from '../test/support/requirements.ts';
import { metricValue } from './skeleton/testing.ts';

const { GenericContainer, Network, Wait } = await loadTestcontainers();

const root = fileURLToPath(new URL('..', import.meta.url));
const MEDIA_ROUTE = '/api/v1/media/:stream/:segment';

/** The pod securityContext of the manifests, as Docker flags; testcontainers has no read-only-root setter. */
class HardenedContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    this.hostConfig.ReadonlyRootfs = true;
    this.withUser('1000:1000').withDroppedCapabilities('ALL').withSecurityOpt('no-new-privileges');
  }
}

describe('service images in containers', { skip: skipUnless(docker), timeout: 20 * 60_000 }, () => {
  // Removes every container and the network on the way out, also those of a start that failed half way.
  const scope = new ContainerScope('mec-test-services');
  let cloud: StartedTestContainer;
  let edge: StartedTestContainer;
  let cloudUrl: string;
  let edgeUrl: string;
  const suffix = `${process.pid}-${Date.now().toString(36)}`;

  before(async () => {
    // Builds the base if missing and the images through the layer cache, so the images match this checkout.
    execFileSync('hack/images/build.sh', {
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
      timeout: 15 * 60_000,
    });
    const network = await scope.network(new Network());
    cloud = await scope.start(
      new HardenedContainer(imageRef('cloud'))
        .withName(`mec-test-cloud-${suffix}`)
        .withNetwork(network)
        .withNetworkAliases('cloud')
        .withEnvironment({ MEDIA_SEGMENT_BYTES: '128Ki' })
        .withExposedPorts(8080)
        .withWaitStrategy(Wait.forLogMessage(/"msg":"listening"/))
        .withStartupTimeout(60_000),
    );
    edge = await scope.start(
      new HardenedContainer(imageRef('edge'))
        .withName(`mec-test-edge-${suffix}`)
        .withNetwork(network)
        .withNetworkAliases('edge')
        .withEnvironment({ CLOUD_TIMEOUT_MS: '5000' }) // CLOUD_URL keeps its default, http://cloud:8080
        .withExposedPorts(8080)
        .withWaitStrategy(Wait.forHttp('/readyz', 8080).forStatusCode(200))
        .withStartupTimeout(60_000),
    );
    cloudUrl = `http://${cloud.getHost()}:${cloud.getMappedPort(8080)}`;
    edgeUrl = `http://${edge.getHost()}:${edge.getMappedPort(8080)}`;
  });

  after(() => scope.cleanup());

  it('runs as uid 1000 with a read-only root filesystem', async () => {
    assert.deepEqual(await processIdentity(edge), { uid: 1000, gid: 1000, write: 'EROFS' });
  });

  it('answers health, readiness and echo with its site header', async () => {
    for (const [url, site] of [
      [edgeUrl, 'edge'],
      [cloudUrl, 'cloud'],
    ] as const) {
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      const echo = await fetch(`${url}/api/v1/echo?bytes=100`);
      assert.equal(echo.status, 200);
      assert.equal(echo.headers.get('x-mec-site'), site);
      assert.equal((await echo.arrayBuffer()).byteLength, 100);
    }
  });

  it('an edge cache miss reaches the cloud over the network; a hit does not', async () => {
    const cloudMediaRequests = async () =>
      metricValue(
        await (await fetch(`${cloudUrl}/metrics`)).text(),
        'mec_http_request_duration_seconds_count',
        {
          route: MEDIA_ROUTE,
          status_code: '200',
        },
      );
    const before = await cloudMediaRequests();
    const miss = await fetch(`${edgeUrl}/api/v1/media/container-test/1`);
    assert.equal(miss.status, 200);
    assert.equal(miss.headers.get('x-mec-cache'), 'miss');
    assert.equal((await miss.arrayBuffer()).byteLength, 128 * 1024);
    assert.equal(await cloudMediaRequests(), before + 1, 'the miss was fetched from the cloud');

    const hit = await fetch(`${edgeUrl}/api/v1/media/container-test/1`);
    assert.equal(hit.headers.get('x-mec-cache'), 'hit');
    assert.equal((await hit.arrayBuffer()).byteLength, 128 * 1024);
    assert.equal(await cloudMediaRequests(), before + 1, 'the hit did not reach the cloud');
  });

  it('metrics are scraped from both, with the contract series', async () => {
    const edgeMetrics = await (await fetch(`${edgeUrl}/metrics`)).text();
    assert.ok(
      metricValue(edgeMetrics, 'mec_media_cache_lookups_total', { site: 'edge', result: 'hit' }) >= 1,
    );
    assert.ok(
      metricValue(edgeMetrics, 'mec_media_cache_lookups_total', { site: 'edge', result: 'miss' }) >= 1,
    );
    assert.ok(
      metricValue(edgeMetrics, 'mec_upstream_request_duration_seconds_count', {
        upstream: 'cloud',
        outcome: 'ok',
      }) >= 1,
    );
    assert.ok(metricValue(edgeMetrics, 'mec_workload_processing_seconds_count', { workload: 'media' }) >= 2);
    const cloudMetrics = await (await fetch(`${cloudUrl}/metrics`)).text();
    assert.ok(metricValue(cloudMetrics, 'mec_http_request_duration_seconds_count', { site: 'cloud' }) >= 1);
    assert.match(cloudMetrics, /^process_resident_memory_bytes \d+/m);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const inspectState = (name: string) =>
      JSON.parse(
        execFileSync('docker', ['inspect', '--format', '{{json .State}}', name], { encoding: 'utf8' }),
      ) as {
        Running: boolean;
        ExitCode: number;
      };
    const extra = await scope.start(
      new HardenedContainer(imageRef('cloud'))
        .withName(`mec-test-cloud-stop-${suffix}`)
        .withWaitStrategy(Wait.forLogMessage(/"msg":"listening"/)),
    );
    // testcontainers takes the grace period in milliseconds (10 would be an immediate SIGKILL).
    const stopped = await extra.stop({ timeout: 10_000, remove: false });
    const state = inspectState(`mec-test-cloud-stop-${suffix}`);
    execFileSync('docker', ['rm', '-f', `mec-test-cloud-stop-${suffix}`], { stdio: 'ignore' });
    assert.equal(state.Running, false);
    assert.equal(state.ExitCode, 0);
    assert.ok(stopped);
  });
});
