// What the overlays render to, beyond security (policy.test.ts): the generated profile is fresh, versions come
// from versions.env, the kind config matches the Services it exposes, and each emulation backend is wired.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { PROFILE_CONFIGMAP } from '../services/cli/link-profile.ts';
import { kindPortMappings, uiAccess } from '../services/cli/urls.ts';
import { parseRoute } from '../services/link-proxy/config.ts';
import { DEFAULT_PRESET, parseProfileText, REQUIRED_SITES } from '../services/topology/index.ts';
import { versions } from '../test/support/kube.ts';
import { commandWorks, need, skipUnless } from '../test/support/requirements.ts';
import { podSpecOf } from './policy.ts';
import { kustomize, type Manifest, OVERLAYS, REPO_ROOT, renderOverlay } from './render.ts';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

describe('generated and listed inputs', () => {
  it('k8s/base/link-profile/profile.yaml is the default preset (hack/generate keeps it fresh)', () => {
    assert.equal(
      parseProfileText(read('k8s/base/link-profile/profile.yaml'), 'profile.yaml').name,
      DEFAULT_PRESET,
    );
  });

  it('every Prometheus rules file is in the prometheus-rules ConfigMap', () => {
    const kustomization = parse(read('k8s/base/kustomization.yaml'));
    const listed: string[] =
      kustomization.configMapGenerator.find((g: Manifest) => g.name === 'prometheus-rules')?.files ?? [];
    const onDisk = readdirSync(join(REPO_ROOT, 'k8s/base/prometheus/rules'))
      .filter((f) => f.endsWith('.rules.yml'))
      .map((f) => `prometheus/rules/${f}`);
    assert.deepEqual(
      [...listed].sort(),
      onDisk.sort(),
      'list new rules files in k8s/base/kustomization.yaml',
    );
  });
});

describe('the kind cluster config', () => {
  const config = parse(read('k8s/kind/cluster.yaml'));

  it('has one control plane and one worker per site of the model, each labelled', () => {
    const roles = config.nodes.map((n: Manifest) => n.role);
    assert.deepEqual(
      roles.filter((r: string) => r === 'control-plane'),
      ['control-plane'],
    );
    const sites = config.nodes
      .filter((n: Manifest) => n.role === 'worker')
      .map((n: Manifest) => n.labels?.['mec-testbed.dev/site']);
    assert.deepEqual([...sites].sort(), [...REQUIRED_SITES].sort());
  });

  it("decodes strictly with kind's own types at the pinned kind version (a misspelt field fails)", (t) => {
    if (!need(t, commandWorks('go', ['version'], 'Go (kind-config-check builds against sigs.k8s.io/kind)')))
      return;
    const checker = join(REPO_ROOT, 'hack/tools/kind-config-check');
    const ok = execFileSync('go', ['run', '.', join(REPO_ROOT, 'k8s/kind/cluster.yaml')], {
      cwd: checker,
      encoding: 'utf8',
    });
    assert.match(ok, /cluster\.yaml: ok/);
    const dir = mkdtempSync(join(tmpdir(), 'mec-test-kind-'));
    try {
      const typo = join(dir, 'typo.yaml');
      writeFileSync(typo, read('k8s/kind/cluster.yaml').replace('extraPortMappings:', 'extraPortMapping:'));
      const r = spawnSync('go', ['run', '.', typo], { cwd: checker, encoding: 'utf8' });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /kind would refuse it: .*unknown field "extraPortMapping"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const goMod = readFileSync(join(checker, 'go.mod'), 'utf8');
    assert.match(
      goMod,
      new RegExp(`sigs\\.k8s\\.io/kind ${versions.KIND_VERSION}\\b`),
      'checker pinned to KIND_VERSION',
    );
  });

  it('leaves the node image to versions.env (pinned by digest) and exposes ports on 127.0.0.1 only', () => {
    assert.ok(
      !config.nodes.some((n: Manifest) => n.image),
      'the node image comes from KIND_NODE_IMAGE via --image',
    );
    assert.match(versions.KIND_NODE_IMAGE ?? '', /^kindest\/node:v[\d.]+@sha256:[0-9a-f]{64}$/);
    const mappings = kindPortMappings(read('k8s/kind/cluster.yaml'));
    assert.equal(mappings.length, 2);
    for (const m of mappings) assert.equal(m.listenAddress, '127.0.0.1');
  });
});

describe('rendered overlays', { skip: skipUnless(kustomize) }, () => {
  const rendered = new Map<string, Manifest[]>(OVERLAYS.map((o) => [o, renderOverlay(o)]));
  const get = (overlay: string, kind: string, name: string, namespace?: string) => {
    const o = (rendered.get(overlay) ?? []).find(
      (x) =>
        x.kind === kind && x.metadata?.name === name && (!namespace || x.metadata?.namespace === namespace),
    );
    assert.ok(o, `${overlay}: ${kind} ${namespace ?? ''}/${name}`);
    return o as Manifest;
  };
  const env = (o: Manifest, name: string) =>
    podSpecOf(o)?.containers[0].env.find((e: Manifest) => e.name === name)?.value;

  for (const overlay of OVERLAYS) {
    it(`${overlay}: images come from versions.env; the versions ConfigMap itself is not applied`, () => {
      const objects = rendered.get(overlay) ?? [];
      const images = objects.flatMap((o) => (podSpecOf(o)?.containers ?? []).map((c: Manifest) => c.image));
      for (const key of ['PROMETHEUS_IMAGE', 'GRAFANA_IMAGE', 'BLACKBOX_EXPORTER_IMAGE'])
        assert.ok(images.includes(versions[key]), `${key}=${versions[key]} is used`);
      assert.ok(!objects.some((o) => o.metadata?.name === 'mec-testbed-versions'));
      assert.ok(!images.some((i: string) => /_IMAGE$/.test(i)), 'no placeholder left');
    });

    it(`${overlay}: the link-profile ConfigMap holds the default preset under its fixed name`, () => {
      const cm = get(overlay, 'ConfigMap', PROFILE_CONFIGMAP.name, PROFILE_CONFIGMAP.namespace);
      assert.equal(parseProfileText(cm.data[PROFILE_CONFIGMAP.key], overlay).name, DEFAULT_PRESET);
    });

    it(`${overlay}: every site nodeSelector names a site of the model`, () => {
      for (const o of rendered.get(overlay) ?? []) {
        const site = podSpecOf(o)?.nodeSelector?.['mec-testbed.dev/site'];
        if (site)
          assert.ok((REQUIRED_SITES as readonly string[]).includes(site), `${o.metadata?.name}: ${site}`);
      }
      assert.equal(
        podSpecOf(get(overlay, 'Deployment', 'blackbox-exporter'))?.nodeSelector['mec-testbed.dev/site'],
        'ue',
      );
    });
  }

  for (const overlay of OVERLAYS) {
    it(`${overlay}: Grafana mounts the grafana/ component's provisioning, datasource uid fixed, home dashboard present`, () => {
      const objects = rendered.get(overlay) ?? [];
      const grafana = get(overlay, 'Deployment', 'grafana');
      const spec = podSpecOf(grafana) as Manifest;
      const byVolume = new Map<string, Manifest>(
        spec.volumes.filter((v: Manifest) => v.configMap).map((v: Manifest) => [v.name, v.configMap]),
      );
      for (const [volume, cm] of byVolume) {
        assert.ok(
          objects.some((o) => o.kind === 'ConfigMap' && o.metadata?.name === cm.name),
          `volume ${volume}: ConfigMap ${cm.name} is rendered (the grafana/ component is included)`,
        );
      }
      const cm = (volume: string) =>
        objects.find((o) => o.kind === 'ConfigMap' && o.metadata?.name === byVolume.get(volume)?.name);
      const datasources = parse(Object.values(cm('datasources')?.data ?? {})[0] as string);
      const prom = datasources.datasources.find((d: Manifest) => d.type === 'prometheus');
      assert.ok(prom?.uid, 'fixed datasource uid');
      assert.equal(
        prom.url,
        `http://prometheus.mec-testbed.svc:${get(overlay, 'Service', 'prometheus').spec.ports[0].port}`,
      );
      const home = env(grafana, 'GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH') as string;
      const mount = spec.containers[0].volumeMounts.find((m: Manifest) => m.name === 'dashboards').mountPath;
      assert.ok(home.startsWith(`${mount}/`));
      assert.ok(
        home.slice(mount.length + 1) in (cm('dashboards')?.data ?? {}),
        `${home} is in the dashboards ConfigMap`,
      );
      assert.equal(env(grafana, 'GF_AUTH_ANONYMOUS_ORG_ROLE'), 'Viewer');
      const password = spec.containers[0].env.find((e: Manifest) => e.name === 'GF_SECURITY_ADMIN_PASSWORD');
      assert.deepEqual(password.valueFrom, {
        secretKeyRef: { name: 'grafana-admin', key: 'admin-password' },
      });
    });
  }

  it('kind: netem backend; Grafana and Prometheus on the control plane, reachable at the mapped 127.0.0.1 ports', () => {
    assert.equal(env(get('kind', 'DaemonSet', 'link-agent'), 'LINK_BACKEND'), 'netem');
    const mappings = kindPortMappings(read('k8s/kind/cluster.yaml'));
    const urls = ['grafana', 'prometheus'].map((name) =>
      uiAccess(get('kind', 'Service', name), name, mappings),
    );
    assert.deepEqual(
      urls.map((u) => [u.url, u.howTo]),
      [
        ['http://127.0.0.1:3000', undefined],
        ['http://127.0.0.1:9090', undefined],
      ],
    );
    for (const name of ['grafana', 'prometheus'])
      assert.equal(
        podSpecOf(get('kind', 'Deployment', name))?.nodeSelector['mec-testbed.dev/observability'],
        'true',
      );
  });

  it('cluster: emulation off, ClusterIP UIs reached by port-forward, no kind-specific placement', () => {
    assert.equal(env(get('cluster', 'DaemonSet', 'link-agent'), 'LINK_BACKEND'), 'off');
    const grafana = uiAccess(get('cluster', 'Service', 'grafana'), 'grafana', []);
    assert.equal(grafana.howTo, 'kubectl port-forward -n mec-testbed svc/grafana 3000:3000');
    assert.equal(podSpecOf(get('cluster', 'Deployment', 'grafana'))?.nodeSelector, undefined);
  });

  it('kind-proxy: clients keep their addresses, which now cross the proxies; routes parse and lead to real services', () => {
    assert.equal(env(get('kind-proxy', 'DaemonSet', 'link-agent'), 'LINK_BACKEND'), 'off');
    for (const name of ['edge', 'cloud']) {
      const svc = get('kind-proxy', 'Service', name);
      assert.deepEqual(svc.spec.selector, {
        'app.kubernetes.io/name': 'link-proxy',
        'mec-testbed.dev/site': 'ue',
      });
    }
    assert.equal(
      env(get('kind-proxy', 'Deployment', 'edge'), 'CLOUD_URL'),
      'http://link-proxy-edge.mec-testbed.svc:8080',
    );
    const services = new Set(
      (rendered.get('kind-proxy') ?? [])
        .filter((o) => o.kind === 'Service')
        .map((o) => `${o.metadata?.name}.${o.metadata?.namespace}.svc`),
    );
    const paths: string[] = [];
    for (const name of ['link-proxy-ue', 'link-proxy-edge']) {
      const d = get('kind-proxy', 'Deployment', name);
      const site = podSpecOf(d)?.nodeSelector['mec-testbed.dev/site'];
      const ports = podSpecOf(d)?.containers[0].ports.map((p: Manifest) => p.containerPort);
      for (const spec of String(env(d, 'ROUTES')).split(',')) {
        const r = parseRoute(spec, '0.0.0.0');
        assert.ok(r.ok, r.ok ? '' : r.error);
        if (!r.ok) continue;
        assert.equal(r.route.from, site, `${name}: routes start at its own site`);
        assert.ok(ports.includes(r.route.listenPort), `${name}: port ${r.route.listenPort} declared`);
        assert.ok(services.has(r.route.upstreamHost), `${name}: upstream ${r.route.upstreamHost} exists`);
        paths.push(`${r.route.from}->${r.route.to}`);
      }
    }
    assert.deepEqual(paths.sort(), ['edge->cloud', 'ue->cloud', 'ue->edge']);
    // Both proxies follow the one profile ConfigMap the agents and the CLI use; no copy of it is rendered.
    for (const name of ['link-proxy-ue', 'link-proxy-edge']) {
      const [namespace, cm] = String(env(get('kind-proxy', 'Deployment', name), 'PROFILE_CONFIGMAP')).split(
        '/',
      );
      assert.ok(get('kind-proxy', 'ConfigMap', cm ?? '', namespace), `${name}: PROFILE_CONFIGMAP exists`);
    }
    assert.equal(
      (rendered.get('kind-proxy') ?? []).filter(
        (o) => o.kind === 'ConfigMap' && o.metadata?.name === 'link-profile',
      ).length,
      1,
    );
  });
});
