// Pods that really run. A kubelet with a private containerd + runc and the bridge CNI, beside
// the control plane of hack/kube, runs a Pod Security "restricted" Deployment made of a static busybox httpd; the
// test reaches the pods over HTTP on their IPs, through a ClusterIP Service (kube-proxy) and by name (CoreDNS),
// and uses the kubelet API (logs, exec) through the API server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { ControlPlane, KubeNode } from '../support/kube.ts';
import { eventually, kubeNode, serverSideApply, startControlPlane, startNode } from '../support/kube.ts';
import { skipUnless } from '../support/requirements.ts';

const ns = 'mec-test-run';
const image = 'mec-test-httpd:stage2';

function buildHttpdImage(): void {
  // FROM scratch + Debian's static busybox: nothing is pulled.
  const dir = mkdtempSync(join(tmpdir(), 'mec-test-httpd-'));
  try {
    copyFileSync('/bin/busybox', join(dir, 'busybox'));
    writeFileSync(join(dir, 'index.html'), 'mec-testbed stage 2\n');
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nCOPY index.html /www/index.html\nUSER 1000:1000\nENTRYPOINT ["/bin/busybox"]\n',
    );
    execFileSync('/usr/bin/docker', ['build', '-q', '-t', image, dir], {
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      stdio: 'ignore',
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const web: V1Deployment = {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: 'web', namespace: ns },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: 'web' } },
    template: {
      metadata: { labels: { app: 'web' } },
      spec: {
        securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
        automountServiceAccountToken: false,
        containers: [
          {
            name: 'httpd',
            image: `docker.io/library/${image}`,
            imagePullPolicy: 'Never',
            args: ['httpd', '-f', '-v', '-p', '8080', '-h', '/www'],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 2 },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
          },
        ],
      },
    },
  },
};

describe('a real node: kubelet + containerd + runc + CNI (hack/kube/node.sh)', {
  skip: skipUnless(kubeNode),
}, () => {
  let cp: ControlPlane;
  let node: KubeNode;

  /** An HTTP/1.0 GET of `host`:80 from inside a web pod (busybox nc), as the raw response. */
  async function getFromWebPod(host: string): Promise<string> {
    const core = cp.kc.makeApiClient(CoreV1Api);
    const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items[0];
    const request = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 ${host} 80`;
    const { stdout } = await cp.kubectl([
      '-n',
      ns,
      'exec',
      pod?.metadata?.name ?? '',
      '--',
      '/bin/busybox',
      'sh',
      '-c',
      request,
    ]);
    return stdout;
  }

  before(async () => {
    cp = await startControlPlane();
    node = await startNode(cp);
    buildHttpdImage();
    await node.importImage(image);
    await serverSideApply(cp.kc, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
  });
  after(async () => {
    await node?.stop();
    await cp?.stop();
    try {
      execFileSync('/usr/bin/docker', ['rmi', image], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  });

  it('runs a restricted Deployment: pods are scheduled, start, pass readiness and answer HTTP on their IPs', async () => {
    await serverSideApply(cp.kc, web);
    const apps = cp.kc.makeApiClient(AppsV1Api);
    await eventually(
      async () => {
        const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
        return d.status?.readyReplicas === 2;
      },
      { timeoutMs: 180_000, what: 'Deployment web to have 2 ready replicas' },
    );
    const pods = await cp.kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    assert.equal(pods.items.length, 2);
    for (const pod of pods.items) {
      assert.equal(pod.spec?.nodeName, node.name);
      assert.equal(pod.status?.phase, 'Running');
      const res = await fetch(`http://${pod.status?.podIP}:8080/`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), 'mec-testbed stage 2\n');
    }
  });

  it('routes a ClusterIP Service (kube-proxy) from the host and from a pod', async () => {
    const core = cp.kc.makeApiClient(CoreV1Api);
    await serverSideApply(cp.kc, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const svc = await core.readNamespacedService({ name: 'web', namespace: ns });
    const ip = svc.spec?.clusterIP;
    assert.match(ip ?? '', /^10\.96\./);
    const body = await eventually(
      async () => {
        const res = await fetch(`http://${ip}/`, { signal: AbortSignal.timeout(3000) });
        return res.status === 200 ? res.text() : undefined;
      },
      { timeoutMs: 60_000, what: `the Service's ClusterIP ${ip} to answer from the host` },
    );
    assert.equal(body, 'mec-testbed stage 2\n');
    // Pod → Service → pod crosses the bridge (br_netfilter, Docker's FORWARD DROP): the CNI firewall plugin's job.
    const stdout = await getFromWebPod(String(ip));
    assert.match(stdout, /^HTTP\/1\.[01] 200/);
    assert.match(stdout, /mec-testbed stage 2/);
  });

  it('resolves Service names (CoreDNS) for pods and from the host', async () => {
    const core = cp.kc.makeApiClient(CoreV1Api);
    const svc = await core.readNamespacedService({ name: 'web', namespace: ns });
    const nodeObj = await core.readNode({ name: node.name });
    const dnsServer = nodeObj.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
    const resolver = new Resolver();
    resolver.setServers([dnsServer]);
    assert.deepEqual(await resolver.resolve4(`web.${ns}.svc.cluster.local`), [svc.spec?.clusterIP]);
    // In a pod: the kubelet's resolv.conf (search path, ndots) lets the short name `web` reach the Service.
    const stdout = await getFromWebPod('web');
    assert.match(stdout, /^HTTP\/1\.[01] 200/);
    assert.match(stdout, /mec-testbed stage 2/);
  });

  it('serves logs and exec through the kubelet API', async () => {
    const core = cp.kc.makeApiClient(CoreV1Api);
    const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items[0];
    const name = pod?.metadata?.name ?? '';
    const { stdout: hostname } = await cp.kubectl(['-n', ns, 'exec', name, '--', '/bin/busybox', 'hostname']);
    assert.equal(hostname.trim(), name);
    const { stdout: id } = await cp.kubectl(['-n', ns, 'exec', name, '--', '/bin/busybox', 'id', '-u']);
    assert.equal(id.trim(), '1000');
    // busybox httpd -v logs one `<client>: response:200` line per request (the readiness probes at least).
    const logs = await eventually(
      async () => {
        const { stdout } = await cp.kubectl(['-n', ns, 'logs', name]);
        return stdout.includes('response:200') ? stdout : undefined;
      },
      { timeoutMs: 30_000, what: 'request lines in the pod log' },
    );
    assert.match(
      logs,
      /10\.244\.77\.1\]?:\d+: response:200/,
      'the probes come from the node, via the bridge',
    );
  });
});
