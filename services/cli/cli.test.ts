// The CLI's decisions, without a cluster: readiness, reasons and hints, status text, URLs, profiles, and the
// "no cluster" message. The same functions run against a real API server in cli.kube.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type {
  V1ConfigMap,
  V1DaemonSet,
  V1Deployment,
  V1Node,
  V1Pod,
  V1Service,
} from '@kubernetes/client-node';
import { PREDICTIONS } from '../../loadtest/lib/predictions.gen.ts';
import { PRESET_NAMES, ProfileError } from '../topology/index.ts';
import { connectionProblem, UserError } from './kube.ts';
import {
  defaultProfileYaml,
  PROFILE_CONFIGMAP,
  prepareProfile,
  profileConfigMap,
  profileInConfigMap,
} from './link-profile.ts';
import { loadPrediction } from './main.ts';
import {
  assess,
  daemonSetState,
  deploymentState,
  hintFor,
  podReason,
  progressLine,
  timeoutReport,
} from './readiness.ts';
import { agentReport, formatStatus, netemAdvice, netemProblems } from './status.ts';
import { formatUrls, hostPortsAnnotation, kindPortMappings, uiAccess } from './urls.ts';

const deployment = (name: string, status: V1Deployment['status'], generation = 1): V1Deployment => ({
  metadata: { name, namespace: 'mec-testbed', generation },
  spec: { replicas: 1, selector: { matchLabels: { 'app.kubernetes.io/name': name } }, template: {} },
  ...(status ? { status } : {}),
});

const pod = (name: string, app: string, status: V1Pod['status'], nodeName?: string): V1Pod => ({
  metadata: { name, namespace: 'mec-testbed', labels: { 'app.kubernetes.io/name': app } },
  spec: { containers: [{ name: app }], ...(nodeName ? { nodeName } : {}) },
  ...(status ? { status } : {}),
});

describe('workload readiness', () => {
  it('a Deployment is ready only when the controller saw the spec and every replica is updated, ready, available', () => {
    const ready = {
      observedGeneration: 2,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
    };
    assert.equal(deploymentState(deployment('edge', ready, 2)).ok, true);
    assert.equal(
      deploymentState(deployment('edge', { ...ready, observedGeneration: 1 }, 2)).waitingFor,
      'the controller to see the new spec',
    );
    assert.equal(
      deploymentState(deployment('edge', { ...ready, updatedReplicas: 0 }, 2)).waitingFor,
      '0/1 updated',
    );
    assert.equal(
      deploymentState(deployment('edge', { ...ready, replicas: 2 }, 2)).waitingFor,
      '1 old replica(s) to terminate',
    );
    assert.equal(
      deploymentState(deployment('edge', { ...ready, readyReplicas: 0 }, 2)).waitingFor,
      '0/1 ready',
    );
    assert.equal(deploymentState(deployment('edge', undefined, 1)).ok, false);
  });

  it('a DaemonSet with no eligible node is not ready, and says which label is missing', () => {
    const ds: V1DaemonSet = {
      metadata: { name: 'link-agent', namespace: 'mec-testbed-system', generation: 1 },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'link-agent' } }, template: {} },
      status: {
        observedGeneration: 1,
        currentNumberScheduled: 0,
        desiredNumberScheduled: 0,
        numberMisscheduled: 0,
        numberReady: 0,
      },
    };
    const state = daemonSetState(ds);
    assert.equal(state.ok, false);
    assert.match(state.waitingFor ?? '', /mec-testbed\.dev\/site/);
    const full = {
      ...ds,
      status: {
        ...ds.status,
        desiredNumberScheduled: 3,
        currentNumberScheduled: 3,
        updatedNumberScheduled: 3,
        numberReady: 3,
        numberAvailable: 3,
      },
    } as V1DaemonSet;
    assert.equal(daemonSetState(full).ok, true);
  });
});

describe('pod reasons and hints', () => {
  const cases: Array<[string, V1Pod, RegExp, RegExp | undefined]> = [
    [
      'image missing',
      pod(
        'edge-1',
        'edge',
        {
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'edge',
              ready: false,
              restartCount: 0,
              image: 'x',
              imageID: '',
              state: { waiting: { reason: 'ErrImageNeverPull', message: 'image not present' } },
            },
          ],
        },
        'n',
      ),
      /edge: ErrImageNeverPull: image not present/,
      /kind/,
    ],
    [
      'crash loop',
      pod(
        'edge-1',
        'edge',
        {
          phase: 'Running',
          containerStatuses: [
            {
              name: 'edge',
              ready: false,
              restartCount: 4,
              image: 'x',
              imageID: '',
              state: { waiting: { reason: 'CrashLoopBackOff' } },
              lastState: { terminated: { exitCode: 1, reason: 'Error' } },
            },
          ],
        },
        'n',
      ),
      /CrashLoopBackOff \(last exit 1 Error\)/,
      /make logs/,
    ],
    [
      'unschedulable',
      pod('cloud-1', 'cloud', {
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: "0/4 nodes are available: 4 node(s) didn't match Pod's node affinity/selector.",
          },
        ],
      }),
      /Unschedulable: 0\/4 nodes/,
      /mec-testbed\.dev\/site/,
    ],
    [
      'never scheduled',
      pod('cloud-1', 'cloud', { phase: 'Pending' }),
      /not scheduled to a node yet/,
      /scheduler/,
    ],
    [
      'probe failing',
      pod(
        'cloud-1',
        'cloud',
        {
          phase: 'Running',
          conditions: [{ type: 'Ready', status: 'False' }],
          containerStatuses: [{ name: 'cloud', ready: false, restartCount: 0, image: 'x', imageID: '' }],
        },
        'n',
      ),
      /Running, not ready \(cloud: readiness probe failing\)/,
      /readyz/,
    ],
    [
      'missing secret',
      pod(
        'grafana-1',
        'grafana',
        {
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'grafana',
              ready: false,
              restartCount: 0,
              image: 'x',
              imageID: '',
              state: {
                waiting: {
                  reason: 'CreateContainerConfigError',
                  message: 'secret "grafana-admin" not found',
                },
              },
            },
          ],
        },
        'n',
      ),
      /CreateContainerConfigError: secret "grafana-admin" not found/,
      /make up/,
    ],
  ];
  for (const [what, p, reason, hint] of cases) {
    it(what, () => {
      const r = podReason(p);
      assert.match(r, reason);
      if (hint) assert.match(hintFor(r) ?? '', hint);
    });
  }
});

describe('progress and the timeout report', () => {
  const ready = deployment('edge', {
    observedGeneration: 1,
    replicas: 1,
    updatedReplicas: 1,
    readyReplicas: 1,
    availableReplicas: 1,
  });
  const waiting = deployment('cloud', {
    observedGeneration: 1,
    replicas: 1,
    updatedReplicas: 1,
    readyReplicas: 0,
  });
  const pods = [
    pod('edge-1', 'edge', { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] }, 'edge-node'),
    pod(
      'cloud-1',
      'cloud',
      {
        phase: 'Pending',
        containerStatuses: [
          {
            name: 'cloud',
            ready: false,
            restartCount: 0,
            image: 'x',
            imageID: '',
            state: { waiting: { reason: 'ImagePullBackOff' } },
          },
        ],
      },
      'cloud-node',
    ),
  ];
  const a = assess([deploymentState(ready), deploymentState(waiting)], pods);

  it('matches pods to workloads by selector and keeps only the unready ones', () => {
    assert.deepEqual(
      a.ready.map((w) => w.name),
      ['edge'],
    );
    assert.deepEqual(a.waiting[0]?.pods, [
      { name: 'cloud-1', node: 'cloud-node', reason: 'cloud: ImagePullBackOff' },
    ]);
  });

  it('prints one line of progress', () => {
    assert.equal(
      progressLine(a, 12.4),
      '[  12s] 1/2 workloads ready; waiting for cloud (0/1 ready; cloud: ImagePullBackOff)',
    );
  });

  it('on timeout names each pod, its node, its reason and what to do', () => {
    const report = timeoutReport(a, 300);
    assert.match(report, /^Timed out after 300s: 1 workload\(s\) not ready\./);
    assert.match(report, /Deployment mec-testbed\/cloud: 0\/1 ready/);
    assert.match(report, /pod cloud-1 on cloud-node: cloud: ImagePullBackOff/);
    assert.match(report, /-> the image is not in the cluster/);
    const nothing = timeoutReport(assess([deploymentState(waiting)], []), 5);
    assert.match(nothing, /no pod yet/);
  });
});

describe('link profiles', () => {
  const noFiles = (path: string): string => {
    throw new ProfileError(path, [{ path: '', message: 'no such file' }]);
  };

  it('every preset validates and becomes the ConfigMap the agents read', () => {
    for (const name of PRESET_NAMES) {
      const p = prepareProfile(name, noFiles);
      const cm = profileConfigMap(p);
      assert.equal(cm.metadata?.name, PROFILE_CONFIGMAP.name);
      assert.equal(cm.metadata?.namespace, PROFILE_CONFIGMAP.namespace);
      assert.equal(cm.metadata?.annotations?.['mec-testbed.dev/profile'], name);
      const back = profileInConfigMap(cm);
      assert.ok(back.ok && back.topology.name === name);
    }
  });

  it('a file is validated by the topology model; an invalid one throws every problem with its place', () => {
    const bad =
      'apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: Bad Name\nlinks:\n  ue-edge: { latency: fast }\n';
    assert.throws(
      () => prepareProfile('my.yaml', () => bad),
      (err: unknown) =>
        err instanceof ProfileError && /name/.test(err.message) && /links\.ue-edge/.test(err.message),
    );
    const good = prepareProfile('mine.yaml', () =>
      defaultProfileYaml().replace('name: 5g-mec', 'name: my-lab'),
    );
    assert.equal(good.name, 'my-lab');
    assert.equal(good.source, 'mine.yaml');
  });

  it('reports a ConfigMap without a valid profile', () => {
    assert.equal(profileInConfigMap(undefined).ok, false);
    const broken: V1ConfigMap = { data: { [PROFILE_CONFIGMAP.key]: 'name: [' } };
    const r = profileInConfigMap(broken);
    assert.ok(!r.ok && /not valid YAML/.test(r.message));
  });
});

describe('the load prediction (make load: MEC_PREDICTION)', () => {
  const noCluster = () => {
    throw new Error('a named profile needs no cluster');
  };
  it("a preset's is the generated one the k6 scripts carry", async () => {
    for (const name of PRESET_NAMES)
      assert.deepEqual(await loadPrediction(noCluster, name), PREDICTIONS[name]);
  });
  it("a file's carries the file's own name and round trips; a bad file is a user error", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mec-test-prediction-'));
    try {
      const file = join(dir, 'lab.yaml');
      writeFileSync(
        file,
        'apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: my-lab\nlinks:\n  ue-edge: { latency: 5ms }\n  edge-cloud: { latency: 20ms }\n',
      );
      const p = await loadPrediction(noCluster, file);
      assert.equal(p.profile, 'my-lab');
      assert.deepEqual(p.roundTripSeconds, { edge: 0.01, cloud: 0.05 });
      assert.equal(p.predictedReduction, 0.8);
      await assert.rejects(loadPrediction(noCluster, join(dir, 'missing.yaml')), UserError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('URLs', () => {
  const kindConfig =
    'kind: Cluster\nnodes:\n  - role: control-plane\n    extraPortMappings:\n      - { containerPort: 30300, hostPort: 3000, listenAddress: 127.0.0.1 }\n';
  const svc = (port: number, nodePort?: number): V1Service => ({
    spec: { ports: [{ port, ...(nodePort ? { nodePort } : {}) }] },
  });

  it('reads the host ports make up recorded on the control-plane node (two testbeds, other ports)', () => {
    const mappings = hostPortsAnnotation('30300=127.0.0.1:3001,30090=127.0.0.1:9091, junk');
    assert.deepEqual(mappings, [
      { containerPort: 30300, listenAddress: '127.0.0.1', hostPort: 3001 },
      { containerPort: 30090, listenAddress: '127.0.0.1', hostPort: 9091 },
    ]);
    assert.equal(uiAccess(svc(9090, 30090), 'prometheus', mappings).url, 'http://127.0.0.1:9091');
    assert.deepEqual(hostPortsAnnotation(undefined), []);
  });

  it('maps a NodePort to the kind host port, else suggests a port-forward', () => {
    const mappings = kindPortMappings(kindConfig);
    assert.deepEqual(uiAccess(svc(3000, 30300), 'grafana', mappings), {
      name: 'grafana',
      url: 'http://127.0.0.1:3000',
    });
    assert.deepEqual(uiAccess(svc(9090), 'prometheus', mappings), {
      name: 'prometheus',
      url: 'http://127.0.0.1:9090',
      howTo: 'kubectl port-forward -n mec-testbed svc/prometheus 9090:9090',
    });
    assert.match(uiAccess(undefined, 'grafana', mappings).howTo ?? '', /not found/);
    assert.match(uiAccess(undefined, 'grafana', mappings, true).howTo ?? '', /headless testbed/);
    assert.equal(
      formatUrls([{ name: 'grafana', url: 'http://127.0.0.1:3000' }]),
      '  Grafana    http://127.0.0.1:3000',
    );
  });
});

describe('status', () => {
  const statusCm = (node: string, s: Record<string, unknown>): V1ConfigMap => ({
    metadata: { name: `link-agent-status-${node}` },
    data: {
      'status.json': JSON.stringify({
        node,
        backend: 'netem',
        inSync: true,
        plan: [],
        warnings: [],
        profileProblems: [],
        updatedAt: 'now',
        ...s,
      }),
    },
  });
  const agents = [
    statusCm('mec-testbed-worker', {
      site: 'ue',
      profile: '5g-mec',
      netem: { available: true, message: 'ok' },
      lastAppliedAt: '2026-11-25T02:00:00Z',
    }),
    statusCm('mec-testbed-worker2', {
      site: 'edge',
      idleReason: 'netem missing',
      netem: {
        available: false,
        cause: 'module-missing',
        message: 'the kernel has no sch_netem',
        fix: 'sudo modprobe sch_netem',
      },
    }),
  ];

  it('reads what each agent reports and advises on missing netem', () => {
    const reports = agents.map(agentReport);
    assert.equal(reports[0]?.profile, '5g-mec');
    assert.deepEqual(
      netemProblems(reports).map((r) => r.node),
      ['mec-testbed-worker2'],
    );
    const advice = netemAdvice(netemProblems(reports));
    assert.match(advice, /mec-testbed-worker2: the kernel has no sch_netem \(fix: sudo modprobe sch_netem\)/);
    assert.match(advice, /EMULATION=proxy/);
    assert.equal(netemAdvice([]), '');
    assert.match(
      agentReport({ metadata: { name: 'link-agent-status-x' }, data: {} }).error ?? '',
      /unreadable/,
    );
  });

  it('formats nodes with sites, pods, the profile each agent applied, netem and URLs', () => {
    const node = (name: string, site?: string): V1Node => ({
      metadata: { name, labels: site ? { 'mec-testbed.dev/site': site } : {} },
      status: {
        conditions: [{ type: 'Ready', status: 'True' }],
        addresses: [{ type: 'InternalIP', address: '172.18.0.2' }],
      },
    });
    const text = formatStatus({
      context: 'kind-mec-testbed',
      server: 'https://127.0.0.1:6443',
      nodes: [
        node('mec-testbed-control-plane'),
        node('mec-testbed-worker', 'ue'),
        node('mec-testbed-worker2', 'edge'),
      ],
      pods: [
        pod(
          'edge-1',
          'edge',
          { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
          'mec-testbed-worker2',
        ),
      ],
      agentStatus: agents,
      profileConfigMap: profileConfigMap(prepareProfile('5g-mec', () => '')),
      ui: [{ name: 'grafana', url: 'http://127.0.0.1:3000' }],
    });
    assert.match(text, /mec-testbed-worker\s+ue\s+yes\s+172\.18\.0\.2/);
    assert.match(text, /no node is labelled mec-testbed\.dev\/site=cloud/);
    assert.match(text, /desired: 5g-mec/);
    assert.match(text, /mec-testbed-worker\s+ue\s+5g-mec\s+netem\s+works/);
    assert.match(text, /mec-testbed-worker2\s+edge\s+-\s+netem\s+MISSING/);
    assert.match(text, /not yet applied on: mec-testbed-worker2/);
    assert.match(text, /Grafana\s+http:\/\/127\.0\.0\.1:3000/);
    assert.match(text, /netem does not work on:\n\s+mec-testbed-worker2/);
  });

  it('with the proxy backend, missing netem is a note, not a fix to apply', () => {
    const base = {
      context: 'kind-mec-testbed',
      server: 'https://127.0.0.1:6443',
      nodes: [],
      pods: [],
      ui: [],
    };
    const text = formatStatus({ ...base, agentStatus: agents, emulation: 'proxy' });
    assert.match(text, /netem is missing on 1 node\(s\); not needed: the link proxy emulates the links\./);
    assert.doesNotMatch(text, /sudo modprobe/);
  });
});

describe('profile-text (what make up renders into the ConfigMaps)', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [fileURLToPath(new URL('./main.ts', import.meta.url)), ...args], {
      encoding: 'utf8',
    });

  it('prints the text make profile would store, and needs no cluster', () => {
    const r = cli('profile-text', 'far-cloud', '--context', 'no-such-context');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, prepareProfile('far-cloud', () => '').text);
  });

  it('refuses an invalid profile with the located message, before anything is applied', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mec-profile-text-'));
    try {
      const file = join(dir, 'bad.yaml');
      writeFileSync(
        file,
        'apiVersion: mec-testbed.dev/v1alpha1\nkind: LinkProfile\nname: bad\nlinks:\n  ue-edge: {latency: soon}\n',
      );
      const r = cli('profile-text', file);
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: links\\.ue-edge\\.latency`),
      );
      assert.equal(r.stdout, '');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('no cluster', () => {
  it('turns connection errors into what to do, and leaves other errors alone', () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    const msg = connectionProblem(refused, 'https://127.0.0.1:6443', 'kind-mec-testbed');
    assert.match(
      msg ?? '',
      /No Kubernetes cluster reachable at https:\/\/127\.0\.0\.1:6443 \(context "kind-mec-testbed", ECONNREFUSED\)/,
    );
    assert.match(msg ?? '', /make up/);
    assert.equal(connectionProblem(new Error('forbidden'), 's', 'c'), undefined);
  });
});
