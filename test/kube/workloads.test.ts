// OUR workloads as real pods. The kind overlay is rendered (k8s/overlays/kind),
// and its namespaces, NetworkPolicies and the edge and cloud ServiceAccounts/Services/Deployments are applied as
// rendered to the control plane of hack/kube with one real node (hack/kube/node.sh). The images are the ones
// `make images` builds (mec-testbed/edge:$IMAGE_TAG, …; dev by default), imported into the node's containerd. The test
// then checks what the cluster promises: Pod Security restricted admits the pods, the hardened securityContext is
// in force inside them, they get Ready through their own /readyz probes, the Services answer (echo, an edge media
// miss fetched from the cloud by the Service name the manifest sets, then a hit, /metrics), and a pod deleted with
// a request in flight drains it (preStop sleep, SIGTERM, in-flight request served, exit without forcing).
//
// The NetworkPolicies are enforced: the flows they name work (edge → DNS → cloud), others are refused (cloud → edge,
// edge → CoreDNS's readiness port), and a policy added at run time opens a flow that a deletion closes again.
//
// Then the link agent's DaemonSet pod (hostNetwork, root with NET_ADMIN only, in mec-testbed-system) runs on the same
// node and talks to the API server through the `kubernetes` Service, as in-cluster clients do; and so does the
// edge-side link proxy of the kind-proxy overlay, which watches the profile ConfigMap with its own account, through
// its NetworkPolicy to the API server.
//
// What differs from the kind cluster, and why:
// - kind has a node per site; this machine runs one node (fixed ports, one bridge), labelled
//   mec-testbed.dev/site=edge. So the cloud Deployment's nodeSelector is changed from site=cloud to site=edge
//   (`onOneNode`), nothing else: both services share a node, and no link is emulated between them.
// - The API server advertises the host's address and listens on every address (`apiServer`), where
//   hack/kube/control-plane.sh uses 127.0.0.1 for both: a loopback address is refused as an endpoint of the
//   `kubernetes` Service ("may not be in the loopback range"), which then has none, so no pod could reach the API.
// - The link agent comes from the `cluster` overlay (LINK_BACKEND=off: probe and report, shape nothing), not from
//   `kind` (netem): a hostNetwork pod on this node is in the machine's own network namespace, and netem there
//   would shape the machine's eth0 on a kernel that has sch_netem. The two overlays' DaemonSets differ only in
//   that variable.
// - NetworkPolicies are enforced by kube-router's firewall (iptables + ipset), not by kindnetd's engine, which needs
//   nft's `queue` expression that this kernel lacks. Both implement the same API; where they differ in corner
//   cases (a hostNetwork peer, traffic from the node itself, which both allow), this test does not lean on it.
// - CoreDNS runs as kind runs it (kube-system pods labelled k8s-app=kube-dns behind Service kube-dns, `dns: 'pod'`),
//   so the policies' DNS rule, which names those pods, is tested as written.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import { AppsV1Api, CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import type { Manifest } from '../../k8s/render.ts';
import { kustomize, renderOverlay } from '../../k8s/render.ts';
import { PRESETS } from '../../services/topology/index.ts';
import { syntheticImage } from '../../services/workloads/inspect/synthetic.ts';
import { imageRef, withImageTags } from '../support/images.ts';
import type { ControlPlane, KubeNode } from '../support/kube.ts';
import {
  eventually,
  kubeBinaries,
  kubectlPath,
  kubeNode,
  repoRoot,
  serverSideApply,
  startControlPlane,
  startNode,
} from '../support/kube.ts';
import type { Requirement } from '../support/requirements.ts';
import { skipUnless } from '../support/requirements.ts';

const ns = 'mec-testbed';
const SITE = 'mec-testbed.dev/site';
const images = [imageRef('edge'), imageRef('cloud'), imageRef('link-agent'), imageRef('link-proxy')];

/** The address the node uses (as hack/kube/node.sh finds it): the API server advertises it to pods. */
function hostIP(): string {
  const route = execFileSync('ip', ['-4', 'route', 'get', '1.1.1.1'], { encoding: 'utf8' });
  const ip = / src ([0-9.]+)/.exec(route)?.[1];
  if (!ip) throw new Error(`no IPv4 source address in \`ip -4 route get 1.1.1.1\`: ${route}`);
  return ip;
}

/** kube-apiserver flags: an endpoint for the `kubernetes` Service that pods can reach (see the header). */
function apiServer(): string[] {
  return ['--bind-address', '0.0.0.0', '--advertise-address', hostIP()];
}

const all: Requirement = () => kubeNode() ?? kubeBinaries() ?? kustomize();

/** What this test applies: the namespaces, every NetworkPolicy, and edge's and cloud's own objects. */
function workloadObjects(rendered: Manifest[]): Manifest[] {
  return rendered.filter(
    (o) =>
      o.kind === 'Namespace' ||
      o.kind === 'NetworkPolicy' ||
      (['ServiceAccount', 'Service', 'Deployment'].includes(o.kind ?? '') &&
        o.metadata?.namespace === ns &&
        ['edge', 'cloud'].includes(o.metadata?.name ?? '')),
  );
}

/**
 * The single test-only change: every site's Deployment is pinned to the one node's site (a node carries one value
 * of the site label). Returns copies; everything else stays as rendered.
 */
function onOneNode(objects: Manifest[], site: string): Manifest[] {
  return objects.map((o) => {
    if (o.kind !== 'Deployment' || o.spec?.template?.spec?.nodeSelector?.[SITE] === undefined) return o;
    const copy = structuredClone(o);
    copy.spec.template.spec.nodeSelector[SITE] = site;
    return copy;
  });
}

function ensureImages(): void {
  const missing = images.filter((ref) => {
    try {
      execFileSync('/usr/bin/docker', ['image', 'inspect', ref], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  // `make images` (builds the local base first when missing; nothing is pulled) and `make link-agent-image`.
  const build = (script: string) =>
    execFileSync(`${repoRoot}/${script}`, [], { stdio: ['ignore', 'ignore', 'inherit'], timeout: 900_000 });
  if (missing.some((ref) => ref !== imageRef('link-agent'))) build('hack/images/build.sh');
  if (missing.includes(imageRef('link-agent'))) build('services/link-agent/image/build.sh');
}

/** Runs `node -e script` in a pod's container (the images have node and no shell); resolves its stdout. */
async function nodeIn(cp: ControlPlane, pod: string, script: string): Promise<string> {
  const { stdout } = await cp.kubectl(['-n', ns, 'exec', pod, '--', 'node', '-e', script]);
  return stdout.trim();
}

function getHeaders(url: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
  return fetch(url, { signal: AbortSignal.timeout(10_000) }).then(async (res) => ({
    status: res.status,
    headers: res.headers,
    body: Buffer.from(await res.arrayBuffer()),
  }));
}

/** What a pod that did not get Ready says: its phase, each container's state, its events and its log's tail. */
async function podReport(kc: KubeConfig, namespace: string, labelSelector: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const out: string[] = [];
  try {
    for (const pod of (await core.listNamespacedPod({ namespace, labelSelector })).items) {
      const name = pod.metadata?.name ?? '';
      out.push(`pod ${name}: ${pod.status?.phase}, node ${pod.spec?.nodeName ?? 'none'}`);
      for (const c of pod.status?.containerStatuses ?? [])
        out.push(`  ${c.name}: ready ${c.ready}, restarts ${c.restartCount}, ${JSON.stringify(c.state)}`);
      const events = await core.listNamespacedEvent({
        namespace,
        fieldSelector: `involvedObject.name=${name}`,
      });
      for (const e of events.items.slice(-10)) out.push(`  event ${e.reason}: ${e.message}`);
      const log = await core
        .readNamespacedPodLog({ name, namespace, tailLines: 30 })
        .catch((e: Error) => `(no log: ${e.message})`);
      out.push(`  log:\n${String(log).replace(/^/gm, '    ')}`);
    }
  } catch (err) {
    out.push(`(could not read the pods: ${(err as Error).message})`);
  }
  return out.join('\n') || `no pod matches ${labelSelector}`;
}

describe('our workloads as real pods: the kind overlay on one real node', { skip: skipUnless(all) }, () => {
  let cp: ControlPlane;
  let node: KubeNode;
  let rendered: Manifest[];
  const ip: Record<'edge' | 'cloud', string> = { edge: '', cloud: '' };
  let pods: Record<'edge' | 'cloud', V1Pod>;

  const podOf = async (app: 'edge' | 'cloud'): Promise<V1Pod> => {
    const list = await cp.kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/name=${app}` });
    const running = list.items.filter((p) => !p.metadata?.deletionTimestamp);
    assert.equal(running.length, 1, `one ${app} pod`);
    return running[0] as V1Pod;
  };

  before(async () => {
    // The manifests name mec-testbed/<name>:dev; this run's images carry IMAGE_TAG.
    rendered = withImageTags(renderOverlay('kind'));
    ensureImages();
    // kind's API server port: the link proxy's NetworkPolicy allows 443 and 6443 to the API server, and
    // kube-router judges a pod's connection to kubernetes.default after kube-proxy's DNAT, at the endpoint's port.
    cp = await startControlPlane({ apiServerArgs: apiServer(), apiServerPort: 6443 });
    node = await startNode(cp, { dns: 'pod' });
    for (const ref of images) await node.importImage(ref);
  });
  after(async () => {
    await node?.stop();
    await cp?.stop();
  });

  it('applies the rendered objects; restricted admits the pods and they get Ready through /readyz', async (t) => {
    const objects = onOneNode(workloadObjects(rendered), 'edge');
    assert.deepEqual(
      objects.filter((o) => o.kind !== 'NetworkPolicy').map((o) => `${o.kind}/${o.metadata?.name}`),
      [
        'Namespace/mec-testbed',
        'Namespace/mec-testbed-system',
        'ServiceAccount/cloud',
        'ServiceAccount/edge',
        'Service/cloud',
        'Service/edge',
        'Deployment/cloud',
        'Deployment/edge',
      ],
    );
    const t0 = Date.now();
    for (const o of objects) await serverSideApply(cp.kc, o);
    const apps = cp.kc.makeApiClient(AppsV1Api);
    await eventually(
      async () => {
        for (const name of ['edge', 'cloud']) {
          const d = await apps.readNamespacedDeployment({ name, namespace: ns });
          if (d.status?.readyReplicas !== 1) return false;
        }
        return true;
      },
      { timeoutMs: 180_000, what: 'Deployments edge and cloud to have their pod Ready' },
    );
    t.diagnostic(`apply → both Deployments Ready: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const namespace = await cp.kc.makeApiClient(CoreV1Api).readNamespace({ name: ns });
    assert.equal(namespace.metadata?.labels?.['pod-security.kubernetes.io/enforce'], 'restricted');
    pods = { edge: await podOf('edge'), cloud: await podOf('cloud') };
    for (const app of ['edge', 'cloud'] as const) {
      const pod = pods[app];
      const want = rendered.find((o) => o.kind === 'Deployment' && o.metadata?.name === app)?.spec.template
        .spec;
      assert.equal(pod.spec?.nodeName, node.name);
      assert.equal(pod.status?.phase, 'Running');
      const c = pod.spec?.containers[0];
      assert.equal(c?.image, imageRef(app));
      assert.equal(c?.readinessProbe?.httpGet?.path, '/readyz');
      // JSON round trip: the client's model classes against plain YAML objects.
      const plain = (x: unknown) => JSON.parse(JSON.stringify(x)) as unknown;
      assert.deepEqual(plain(c?.securityContext), want.containers[0].securityContext, 'as rendered');
      assert.deepEqual(plain(pod.spec?.securityContext), want.securityContext, 'as rendered');
      assert.deepEqual(plain(c?.resources), want.containers[0].resources);
      const ready = pod.status?.conditions?.find((x) => x.type === 'Ready');
      assert.equal(ready?.status, 'True');
      const started = Date.parse(String(pod.metadata?.creationTimestamp));
      t.diagnostic(
        `${app}: pod created → Ready ${((Date.parse(String(ready?.lastTransitionTime)) - started) / 1000).toFixed(0)} s (1 s resolution)`,
      );
      ip[app] = (await cp.kc.makeApiClient(CoreV1Api).readNamespacedService({ name: app, namespace: ns }))
        .spec?.clusterIP as string;
    }
  });

  it('runs them as the securityContext says: uid 1000, no capabilities, read-only root, seccomp, no new privileges', async () => {
    for (const app of ['edge', 'cloud'] as const) {
      const out = JSON.parse(
        await nodeIn(
          cp,
          pods[app].metadata?.name as string,
          `const fs = require('fs'); const s = fs.readFileSync('/proc/self/status', 'utf8');
           const field = (k) => new RegExp(k + ':\\\\s*(\\\\S+)').exec(s)[1];
           let root = 'writable'; try { fs.writeFileSync('/mec-test', ''); } catch (e) { root = e.code; }
           fs.writeFileSync('/tmp/mec-test', 'ok');
           console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), root,
             capEff: field('CapEff'), capBnd: field('CapBnd'), seccomp: field('Seccomp'), nnp: field('NoNewPrivs') }));`,
        ),
      );
      assert.deepEqual(
        out,
        {
          uid: 1000,
          gid: 1000,
          root: 'EROFS',
          capEff: '0000000000000000',
          capBnd: '0000000000000000',
          seccomp: '2', // filter mode: runc installed the RuntimeDefault profile
          nnp: '1',
        },
        `${app}'s process`,
      );
    }
  });

  it('enforces the NetworkPolicies: a flow they do not name is refused until a policy names it', async (t) => {
    const want = rendered.filter((o) => o.kind === 'NetworkPolicy').length;
    const net = cp.kc.makeApiClient(NetworkingV1Api);
    const stored =
      (await net.listNamespacedNetworkPolicy({ namespace: ns })).items.length +
      (await net.listNamespacedNetworkPolicy({ namespace: 'mec-testbed-system' })).items.length;
    assert.equal(stored, want);
    // cloud → edge is no flow of base/network-policies.yaml (default-deny at both ends), nor is edge → anything but
    // DNS and the cloud. Once both are refused, both pods are under their policies, so the tests after this one
    // show the named flows working under enforcement (edge → cloud by Service name: the DNS rule to kube-system's
    // k8s-app=kube-dns pods, then the edge-to-cloud rule).
    const cloudToEdge = `http://edge.${ns}.svc:8080/api/v1/echo?bytes=1`;
    const attempt = (pod: string, url: string) =>
      nodeIn(
        cp,
        pod,
        `fetch('${url}', { signal: AbortSignal.timeout(3000) }).then((r) => console.log(r.status),
           (e) => console.log(e.cause?.code ?? e.name));`,
      );
    const cloud = pods.cloud.metadata?.name as string;
    const edge = pods.edge.metadata?.name as string;
    const dnsPod = (
      await cp.kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-dns' })
    ).items[0]?.status?.podIP;
    assert.ok(dnsPod, 'the CoreDNS pod has an address');
    // Eventually: the engine programs a pod some time after it starts (all engines do; the API promises no moment).
    const refused = async (pod: string, url: string, what: string) => {
      const t0 = Date.now();
      let tries = 0;
      await eventually(
        async () => {
          tries++;
          return /^(ECONNREFUSED|TimeoutError)$/.test(await attempt(pod, url));
        },
        { timeoutMs: 30_000, what: `${what} to be refused` },
      );
      t.diagnostic(`${what}: refused at try ${tries}, ${Date.now() - t0} ms`);
    };
    // cloud's egress and edge's ingress.
    await refused(cloud, cloudToEdge, 'cloud → edge');
    // edge's egress: the DNS rule opens port 53 of the kube-dns pods, not their readiness port (kube-system has no
    // policies, so only the edge's side can refuse it).
    await refused(edge, `http://${dnsPod}:8181/ready`, 'edge → CoreDNS:8181');
    // edge → API server is denied too, but it is printed, not asserted: it goes to the node's own address (the
    // INPUT path, not the bridge), and in 5 of 20 runs here kube-router let it through at the first try (in the
    // one of those that retried, for the whole 30 s) while refusals like the two above held. The cause was not
    // found; on kind, kindnetd decides it.
    t.diagnostic(
      `edge → API server (denied by the policies): ${await attempt(edge, 'https://kubernetes.default.svc/version')}`,
    );

    // A flow opened at run time, at both ends as the policy check demands of every flow, then closed again: the
    // refusal above is the policies' doing, and the engine follows them.
    const app = (name: string) => ({ podSelector: { matchLabels: { 'app.kubernetes.io/name': name } } });
    const ports = [{ protocol: 'TCP', port: 8080 }];
    const opened = [
      {
        name: 'test-cloud-to-edge-egress',
        policyTypes: ['Egress'],
        ...app('cloud'),
        egress: [{ to: [app('edge')], ports }],
      },
      {
        name: 'test-cloud-to-edge-ingress',
        policyTypes: ['Ingress'],
        ...app('edge'),
        ingress: [{ from: [app('cloud')], ports }],
      },
    ];
    for (const { name, ...spec } of opened)
      await serverSideApply(cp.kc, {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name, namespace: ns },
        spec,
      });
    await eventually(async () => (await attempt(cloud, cloudToEdge)) === '200', {
      timeoutMs: 30_000,
      what: 'cloud → edge to connect once a policy names it',
    });
    for (const { name } of opened) await net.deleteNamespacedNetworkPolicy({ name, namespace: ns });
    await refused(cloud, cloudToEdge, 'cloud → edge once the policies are gone');
  });

  it('answers through its Services, by the names CoreDNS serves', async () => {
    // CoreDNS is a pod here (startNode's dns: 'pod'); it answers only because its kubernetes plugin reaches the API
    // server in-cluster, through the `kubernetes` Service.
    const dns = await cp.kc
      .makeApiClient(CoreV1Api)
      .readNamespacedService({ name: 'kube-dns', namespace: 'kube-system' });
    const resolver = new Resolver();
    resolver.setServers([dns.spec?.clusterIP as string]);
    for (const app of ['edge', 'cloud'] as const) {
      assert.deepEqual(await resolver.resolve4(`${app}.${ns}.svc.cluster.local`), [ip[app]]);
      // kube-proxy programs the Service's endpoint a moment after the pod turns Ready (refused until then).
      const res = await eventually(() => getHeaders(`http://${ip[app]}:8080/api/v1/echo?bytes=32`), {
        timeoutMs: 30_000,
        what: `the ${app} Service to answer`,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-mec-site'), app);
      assert.equal(res.body.length, 32);
      assert.match(res.headers.get('server-timing') ?? '', /^app;dur=/);
    }
  });

  it('serves an edge media miss from the cloud through the Service name in CLOUD_URL, then a hit', async () => {
    // Inside the edge pod: the URL is the manifest's, and its name resolves to the cloud Service (search path).
    const inside = JSON.parse(
      await nodeIn(
        cp,
        pods.edge.metadata?.name as string,
        `require('dns').lookup(new URL(process.env.CLOUD_URL).hostname, { family: 4 }, (err, address) =>
           console.log(JSON.stringify({ url: process.env.CLOUD_URL, address, err: err && err.code })));`,
      ),
    );
    assert.deepEqual(inside, { url: 'http://cloud.mec-testbed.svc:8080', address: ip.cloud, err: null });

    const segment = '/api/v1/media/mec-test-stream/7';
    const miss = await getHeaders(`http://${ip.edge}:8080${segment}`);
    assert.equal(miss.status, 200);
    assert.equal(miss.headers.get('x-mec-site'), 'edge');
    assert.equal(miss.headers.get('x-mec-cache'), 'miss');
    const origin = await getHeaders(`http://${ip.cloud}:8080${segment}`);
    assert.equal(origin.headers.get('x-mec-site'), 'cloud');
    assert.ok(miss.body.equals(origin.body), 'the edge served the cloud’s bytes');
    const hit = await getHeaders(`http://${ip.edge}:8080${segment}`);
    assert.equal(hit.headers.get('x-mec-cache'), 'hit');
    assert.ok(hit.body.equals(origin.body));

    const edgeMetrics = await (await fetch(`http://${ip.edge}:8080/metrics`)).text();
    assert.match(edgeMetrics, /^mec_media_cache_lookups_total\{site="edge",result="miss"\} 1$/m);
    assert.match(edgeMetrics, /^mec_media_cache_lookups_total\{site="edge",result="hit"\} 1$/m);
    assert.match(
      edgeMetrics,
      /^mec_upstream_request_duration_seconds_count\{site="edge",upstream="cloud",outcome="ok"\} 1$/m,
    );
    const cloudMetrics = await (await fetch(`http://${ip.cloud}:8080/metrics`)).text();
    // The edge's one fetch plus the test's direct one.
    assert.match(
      cloudMetrics,
      /^mec_http_request_duration_seconds_count\{site="cloud",route="\/api\/v1\/media\/:stream\/:segment",method="GET",status_code="200"\} 2$/m,
    );
    assert.match(cloudMetrics, /^process_resident_memory_bytes \d+/m);
  });

  it('drains a deleted pod: preStop, SIGTERM, the in-flight inspect is served, new connections refused, exit unforced', async (t) => {
    const pod = (await podOf('edge')).metadata?.name as string;
    const podIP = (await podOf('edge')).status?.podIP as string;
    const image = syntheticImage({ width: 1024, height: 1024, defects: 3, seed: 7 });
    const body = Buffer.from(image.pixels);

    // Follow the pod's log (through the kubelet) to see SIGTERM arrive and the process stop.
    const kubectl = kubectlPath() as string;
    const follower = spawn(kubectl, ['--kubeconfig', cp.kubeconfigPath, '-n', ns, 'logs', '-f', pod], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let log = '';
    follower.stdout.on('data', (d: Buffer) => {
      log += d.toString();
    });
    const followed = new Promise<void>((resolve) => follower.on('close', () => resolve()));
    const lines = () =>
      log
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; forced?: boolean; signal?: string });
    try {
      await eventually(() => lines().some((l) => l.msg === 'listening'), { what: 'the pod log to stream' });

      // The request goes through the Service; the body is sent in two halves, the second only once SIGTERM has
      // arrived, so the request is in flight across preStop and the start of the drain.
      let sendRest: () => void = () => {};
      const response = new Promise<{ status: number; connection?: string; json: string }>(
        (resolve, reject) => {
          const req = request(
            {
              host: ip.edge,
              port: 8080,
              method: 'POST',
              path: `/api/v1/inspect?width=${image.width}&height=${image.height}`,
              headers: { 'content-type': 'application/octet-stream', 'content-length': body.length },
            },
            (res) => {
              let json = '';
              res.setEncoding('utf8');
              res.on('data', (d: string) => {
                json += d;
              });
              res.on('end', () =>
                resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, json }),
              );
            },
          );
          req.on('error', reject);
          req.write(body.subarray(0, body.length / 2));
          sendRest = () => req.end(body.subarray(body.length / 2));
        },
      );
      let settled: string | false = false;
      void response.then(
        (r) => {
          settled = `answered ${r.status} ${r.json}`;
        },
        (err: Error) => {
          settled = `failed: ${err.message}`;
        },
      );

      const deletedAt = Date.now();
      await cp.kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ name: pod, namespace: ns });
      await eventually(() => lines().some((l) => l.msg === 'signal received' && l.signal === 'SIGTERM'), {
        timeoutMs: 60_000,
        what: 'SIGTERM in the pod log (after the 5 s preStop sleep)',
      });
      t.diagnostic(
        `delete → SIGTERM in the log: ${((Date.now() - deletedAt) / 1000).toFixed(1)} s (preStop sleep 5 s)`,
      );
      await eventually(() => lines().some((l) => l.msg === 'draining'), { what: 'the drain to start' });
      assert.equal(settled, false, 'the inspect is still in flight when the drain starts');
      // The listener is closed: a new connection to the pod is refused while the old one is still served.
      await assert.rejects(fetch(`http://${podIP}:8080/healthz`, { signal: AbortSignal.timeout(5000) }));

      sendRest();
      const res = await response;
      assert.equal(res.status, 200, res.json);
      assert.equal(res.connection, 'close', 'a draining server closes the connection after the answer');
      const result = JSON.parse(res.json) as { verdict: string; defectCount: number };
      assert.equal(result.verdict, 'fail');
      assert.equal(result.defectCount, image.planted.length);

      await followed;
      const stopped = lines().find((l) => l.msg === 'stopped');
      assert.equal(stopped?.forced, false, `the process stopped without forcing connections shut:\n${log}`);
      t.diagnostic(`delete → process exit: ${((Date.now() - deletedAt) / 1000).toFixed(1)} s`);
    } finally {
      follower.kill();
    }
    // The Deployment replaces the pod, and the Service answers again.
    await eventually(
      async () => (await fetch(`http://${ip.edge}:8080/readyz`, { signal: AbortSignal.timeout(2000) })).ok,
      { timeoutMs: 120_000, what: 'the replacement edge pod to answer through the Service' },
    );
  });

  it('runs the link agent DaemonSet pod: hostNetwork, NET_ADMIN only, in-cluster API access, status published', async (t) => {
    const system = 'mec-testbed-system';
    const agentObjects = (overlay: Manifest[]) =>
      overlay.filter(
        (o) =>
          (o.metadata?.namespace === system &&
            ['link-agent', 'link-profile'].includes(o.metadata?.name ?? '')) ||
          o.metadata?.name === 'mec-testbed-link-agent',
      );
    const objects = agentObjects(withImageTags(renderOverlay('cluster')));
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'Role',
      'RoleBinding',
      'Service',
      'ServiceAccount',
    ]);
    // The cluster overlay's agent is the kind overlay's but for LINK_BACKEND (see the header).
    const backend = (ds: Manifest | undefined) =>
      ((ds?.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[]).find(
        (e) => e.name === 'LINK_BACKEND',
      );
    const kindDs = structuredClone(agentObjects(rendered).find((o) => o.kind === 'DaemonSet'));
    const clusterDs = objects.find((o) => o.kind === 'DaemonSet');
    assert.equal(backend(kindDs)?.value, 'netem');
    assert.equal(backend(clusterDs)?.value, 'off');
    (backend(kindDs) as { value: string }).value = 'off';
    // The kind component's strategic-merge patch moves the variable to the front; the order means nothing.
    const byName = (ds: Manifest | undefined) => {
      const copy = structuredClone(ds) as Manifest;
      const env = copy.spec.template.spec.containers[0].env as { name: string }[];
      env.sort((a, b) => a.name.localeCompare(b.name));
      return copy;
    };
    assert.deepEqual(byName(kindDs), byName(clusterDs));

    for (const o of objects) await serverSideApply(cp.kc, o);
    const t0 = Date.now();
    await eventually(
      async () =>
        (
          await cp.kc
            .makeApiClient(AppsV1Api)
            .readNamespacedDaemonSet({ name: 'link-agent', namespace: system })
        ).status?.numberReady === 1,
      { timeoutMs: 180_000, what: 'the link-agent DaemonSet pod to be Ready' },
    );
    const pod = (
      await cp.kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: system, labelSelector: 'app.kubernetes.io/name=link-agent' })
    ).items[0] as V1Pod;
    assert.equal(pod.spec?.nodeName, node.name);
    assert.equal(pod.status?.podIP, hostIP(), 'hostNetwork: the pod has the node’s address');

    const inside = JSON.parse(
      (
        await cp.kubectl([
          '-n',
          system,
          'exec',
          pod.metadata?.name as string,
          '--',
          'node',
          '-e',
          `const fs = require('fs'); const s = fs.readFileSync('/proc/self/status', 'utf8');
           let root = 'writable'; try { fs.writeFileSync('/mec-test', ''); } catch (e) { root = e.code; }
           console.log(JSON.stringify({ uid: process.getuid(), root, capEff: /CapEff:\\s*(\\S+)/.exec(s)[1],
             api: process.env.KUBERNETES_SERVICE_HOST + ':' + process.env.KUBERNETES_SERVICE_PORT }));`,
        ])
      ).stdout,
    );
    assert.deepEqual(inside, {
      uid: 0,
      root: 'EROFS',
      capEff: '0000000000001000', // CAP_NET_ADMIN (bit 12), nothing else
      api: '10.96.0.1:443', // the `kubernetes` Service, which kube-proxy leads to the API server
    });

    // What it read and wrote through the API: the profile in, its status ConfigMap out.
    const cm = await eventually(
      async () =>
        (
          await cp.kc
            .makeApiClient(CoreV1Api)
            .readNamespacedConfigMap({ name: `link-agent-status-${node.name}`, namespace: system })
        ).data?.['status.json'],
      { what: 'the agent’s status ConfigMap' },
    );
    const status = JSON.parse(cm) as Record<string, unknown>;
    assert.equal(status.node, node.name);
    assert.equal(status.site, 'edge');
    assert.equal(status.mode, 'off');
    assert.equal(status.inSync, true);
    assert.deepEqual(status.plan, [], 'LINK_BACKEND=off: nothing shaped');
    assert.match(String(status.profile), /\S/, 'the profile from ConfigMap link-profile');
    const metrics = await (await fetch(`http://${hostIP()}:9465/metrics`)).text();
    assert.match(metrics, new RegExp(`^mec_link_netem_available\\{node="${node.name}"\\} [01]$`, 'm'));
    assert.match(metrics, /^mec_link_agent_apply_errors_total 0$/m);
    t.diagnostic(
      `link agent: apply → Ready ${((Date.now() - t0) / 1000).toFixed(1)} s; netem ${(status.netem as { available: boolean }).available ? 'available' : 'unavailable'} on this kernel`,
    );
  });

  it('runs a link proxy pod: it follows the profile ConfigMap through the API with its own account, a change in force within 2 s', async (t) => {
    const system = 'mec-testbed-system';
    const proxyObjects = withImageTags(renderOverlay('kind-proxy')).filter(
      (o) =>
        (['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind ?? '') &&
          o.metadata?.name === 'link-proxy') ||
        (o.kind === 'Deployment' && o.metadata?.name === 'link-proxy-edge') ||
        (o.kind === 'Service' && o.metadata?.name === 'cloud-direct') ||
        (o.kind === 'ConfigMap' && o.metadata?.name === 'link-profile' && o.metadata?.namespace === system) ||
        (o.kind === 'NetworkPolicy' && /^proxy-/.test(o.metadata?.name ?? '')),
    );
    for (const o of proxyObjects) await serverSideApply(cp.kc, o);
    const t0 = Date.now();
    await eventually(
      async () =>
        (
          await cp.kc
            .makeApiClient(AppsV1Api)
            .readNamespacedDeployment({ name: 'link-proxy-edge', namespace: ns })
        ).status?.readyReplicas === 1,
      {
        timeoutMs: 180_000,
        what: 'the link-proxy-edge pod to be Ready (its first profile read through the API)',
      },
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await podReport(cp.kc, ns, 'app.kubernetes.io/name=link-proxy')}`);
    });
    const pod = (
      await cp.kc
        .makeApiClient(CoreV1Api)
        .listNamespacedPod({ namespace: ns, labelSelector: 'app.kubernetes.io/name=link-proxy' })
    ).items.find((p) => !p.metadata?.deletionTimestamp) as V1Pod;
    const metrics = `http://${pod.status?.podIP}:8474/metrics`;
    const profileIs = async (name: string) =>
      new RegExp(`^mec_link_profile_info\\{profile="${name}",backend="proxy"\\} 1$`, 'm').test(
        await (await fetch(metrics, { signal: AbortSignal.timeout(5000) })).text(),
      );
    const cm = proxyObjects.find((o) => o.kind === 'ConfigMap') as Manifest;
    const first = /^name: (\S+)$/m.exec(String(cm.data['profile.yaml']))?.[1] ?? '';
    assert.ok(await profileIs(first), `the pod serves the ConfigMap's profile (${first})`);
    // A switch, as `make profile` writes it: the proxy must have it within 2 s.
    const switched = { ...cm, data: { 'profile.yaml': stringify(PRESETS['far-cloud']) } };
    await serverSideApply(cp.kc, switched);
    const applied = Date.now();
    await eventually(() => profileIs('far-cloud'), {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the proxy pod to apply the switched profile',
    });
    const ms = Date.now() - applied;
    t.diagnostic(
      `link proxy pod: apply → Ready ${((Date.now() - t0) / 1000).toFixed(1)} s; a switch in force after ${ms} ms`,
    );
    assert.ok(ms <= 2000, `the switch took ${ms} ms`);
    await serverSideApply(cp.kc, cm);
  });

  it('reports what the pods use (kubelet stats summary)', async (t) => {
    type Summary = {
      pods: { podRef: { name: string; namespace: string }; memory?: { workingSetBytes?: number } }[];
    };
    // The kubelet's cAdvisor samples every few seconds: a pod may not have its first figure yet.
    const ours = await eventually(
      async () => {
        const { stdout } = await cp.kubectl([
          'get',
          '--raw',
          `/api/v1/nodes/${node.name}/proxy/stats/summary`,
        ]);
        // Pods with a figure (the pod deleted by the drain test may linger in the summary without one).
        const pods = (JSON.parse(stdout) as Summary).pods.filter(
          (p) =>
            [ns, 'mec-testbed-system'].includes(p.podRef.namespace) && (p.memory?.workingSetBytes ?? 0) > 0,
        );
        const apps = ['edge-', 'cloud-', 'link-agent-'];
        return apps.every((a) => pods.some((p) => p.podRef.name.startsWith(a))) && pods;
      },
      {
        timeoutMs: 60_000,
        what: 'memory figures for edge, cloud and the link agent in the kubelet stats summary',
      },
    );
    for (const p of ours) {
      t.diagnostic(
        `${p.podRef.name}: working set ${((p.memory?.workingSetBytes ?? 0) / 2 ** 20).toFixed(0)} MiB`,
      );
    }
  });
});
