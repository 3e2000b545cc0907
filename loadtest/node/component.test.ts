// The loadtest kustomize Component as `make load` renders it: the Job on the ue node with k6 from versions.env,
// every script and every file it imports mounted where the import expects it, restricted security settings.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { commandWorks, skipUnless } from '../../test/support/requirements.ts';

const root = join(import.meta.dirname, '..', '..');
const version = /^KUBECTL_VERSION=(.+)$/m.exec(readFileSync(join(root, 'versions.env'), 'utf8'))?.[1] ?? '';
/** $KUBECTL, `make tools`' ./bin/kubectl-<version>, the CI cache's build (`make kube-build`), or kubectl on PATH. */
const kubectlBin =
  [
    process.env.KUBECTL,
    join(root, 'bin', `kubectl-${version}`),
    join(
      process.env.MEC_CACHE_DIR ?? join(homedir(), '.cache', 'mec-testbed'),
      `kube-${version}`,
      'bin',
      'kubectl',
    ),
  ].find((p) => p && existsSync(p)) ?? 'kubectl';
const kubectl = commandWorks(kubectlBin, ['version', '--client'], 'kubectl (for kustomize)');

interface Doc {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: rendered Kubernetes objects, checked field by field below
  spec?: any;
}

function render(): Doc[] {
  const dir = mkdtempSync(join(tmpdir(), 'mec-test-load-'));
  try {
    writeFileSync(
      join(dir, 'kustomization.yaml'),
      [
        'apiVersion: kustomize.config.k8s.io/v1beta1',
        'kind: Kustomization',
        'configMapGenerator:',
        '  - name: mec-testbed-versions',
        '    namespace: mec-testbed',
        `    envs: [${relative(dir, join(root, 'versions.env'))}]`,
        '    options:',
        '      disableNameSuffixHash: true',
        '      annotations: {config.kubernetes.io/local-config: "true"}',
        `components: [${relative(dir, join(root, 'loadtest'))}]`,
      ].join('\n'),
    );
    const out = execFileSync(kubectlBin, ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', dir], {
      encoding: 'utf8',
    });
    return parseAllDocuments(out).map((d) => d.toJS() as Doc);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('loadtest Component (make load)', { skip: skipUnless(kubectl) }, () => {
  let job: Doc | undefined;
  let scripts: Doc | undefined;
  before(() => {
    const docs = render();
    job = docs.find((d) => d.kind === 'Job' && d.metadata.name === 'mec-load');
    scripts = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name.startsWith('mec-loadtest-scripts'));
  });

  it('runs k6 from versions.env on the ue node, as a network client of the services', () => {
    assert.ok(job);
    const pod = job.spec.template;
    const image = /^K6_IMAGE=(.+)$/m.exec(readFileSync(join(root, 'versions.env'), 'utf8'))?.[1];
    assert.equal(pod.spec.containers[0].image, image);
    assert.deepEqual(pod.spec.nodeSelector, { 'mec-testbed.dev/site': 'ue' });
    assert.equal(pod.metadata.labels['mec-testbed.dev/client'], 'true');
    assert.equal(job.spec.backoffLimit, 0);
    const env = Object.fromEntries(
      pod.spec.containers[0].env.map((e: { name: string; value: string }) => [e.name, e.value]),
    );
    // Native histograms through k6's feature flag (k6 >= 2.1); the legacy variable only logs a deprecation.
    assert.equal(env.K6_FEATURES, 'native-histograms');
    assert.equal(env.K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM, undefined);
    assert.match(env.K6_PROMETHEUS_RW_SERVER_URL, /prometheus\.mec-testbed\.svc:9090\/api\/v1\/write$/);
    assert.deepEqual(pod.spec.containers[0].args, [
      'run',
      '--out',
      'experimental-prometheus-rw',
      '/scripts/$(MEC_SCRIPT).ts',
    ]);
    // The script is chosen by the settings ConfigMap run.sh writes; an `env` entry would override it.
    assert.equal(env.MEC_SCRIPT, undefined);
    assert.deepEqual(pod.spec.containers[0].envFrom, [{ configMapRef: { name: 'mec-load-settings' } }]);
  });

  it('is restricted: non-root, no privilege escalation, read-only root, all capabilities dropped', () => {
    assert.ok(job);
    const pod = job.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    assert.deepEqual(
      pod.containers.map((c: { name: string }) => c.name),
      ['k6', 'results'],
    );
    for (const { name, securityContext: c, resources } of pod.containers) {
      assert.equal(c.allowPrivilegeEscalation, false, name);
      assert.equal(c.readOnlyRootFilesystem, true, name);
      assert.deepEqual(c.capabilities.drop, ['ALL'], name);
      assert.ok(resources.limits.memory && resources.requests.cpu, `${name} has requests and limits`);
    }
  });

  it('keeps the summary files readable after k6 exits: a results container shares /tmp until run.sh collects', () => {
    assert.ok(job);
    const [k6, results] = job.spec.template.spec.containers;
    assert.equal(results.image, k6.image, 'the k6 image (alpine: sh, cat, sleep), already pulled');
    const tmp = (c: { volumeMounts: Array<{ name: string; mountPath: string }> }) =>
      c.volumeMounts.find((m) => m.mountPath === '/tmp')?.name;
    assert.equal(tmp(results), tmp(k6));
    const env = Object.fromEntries(k6.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    assert.equal(env.MEC_SUMMARY_DIR, '/tmp');
    assert.match(results.args.join('\n'), /until \[ -f \/tmp\/\.collected \]/);
  });

  it('mounts every script and every module it imports at the path the import names', () => {
    assert.ok(job && scripts?.data);
    const volume = job.spec.template.spec.volumes.find((v: { name: string }) => v.name === 'scripts');
    assert.equal(volume.configMap.name, scripts.metadata.name);
    const mounted = new Map<string, string>(
      volume.configMap.items.map((i: { key: string; path: string }) => [i.path, i.key]),
    );
    for (const [path, key] of mounted) {
      const source = scripts.data[key];
      assert.ok(source, `${key} is in the ConfigMap`);
      for (const m of source.matchAll(/from '(\.[^']+)'/g)) {
        const target = join('/', path, '..', m[1] ?? '').slice(1);
        assert.ok(mounted.has(target), `${path} imports ${m[1]}, not mounted at ${target}`);
      }
    }
    for (const script of ['echo', 'inspect', 'media', 'mixed']) assert.ok(mounted.has(`${script}.ts`));
  });
});
