// The kind target, as far as it can be tested without k6 (which cannot run on this machine): the k6 options and
// request generated per run, reading k6's CSV output back, and the Job admitted by a real kube-apiserver under
// Pod Security `restricted`, its pod created by the Job controller on the ue node.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type ControlPlane,
  eventually,
  kubeBinaries,
  serverSideApply,
  startControlPlane,
} from '../../test/support/kube.ts';
import { skipUnless } from '../../test/support/requirements.ts';
import { arrival, jobName, k6Job, k6Options, k6Request, parseK6Csv } from './kind.ts';
import { runSettings } from './spec.ts';
import { parseSpecText } from './validate.ts';

const spec = parseSpecText(
  `apiVersion: mec-testbed.dev/v1alpha1
kind: Experiment
name: k
target: kind
fixed: { workload: media-hit, rate: 2.5, connection: new, maxInFlight: 50 }
duration: 10s
warmup: 2s
`,
  'k.yaml',
);
const settings = runSettings(spec, {});
const planned = {
  id: 'c01-r1',
  condition: 'c01',
  repetition: 1,
  sites: ['cloud', 'edge'] as Array<'edge' | 'cloud'>,
};

describe('k6 options for a run', () => {
  it('turn any rate into k6’s integer rate per time unit', () => {
    assert.deepEqual(arrival(20), { rate: 20, timeUnit: '1s' });
    assert.deepEqual(arrival(2.5), { rate: 5, timeUnit: '2s' });
    assert.deepEqual(arrival(0.1), { rate: 1, timeUnit: '10s' });
    assert.deepEqual(arrival(1 / 3), { rate: 333, timeUnit: '1000s' });
  });
  it('measure the sites one after the other in the run’s order, each warmed up first', () => {
    const o = k6Options(spec, planned, settings) as {
      scenarios: Record<string, Record<string, unknown>>;
      noConnectionReuse: boolean;
    };
    assert.deepEqual(Object.keys(o.scenarios), [
      'cloud_warmup',
      'cloud_measure',
      'edge_warmup',
      'edge_measure',
    ]);
    assert.deepEqual(
      Object.values(o.scenarios).map((s) => [s.startTime, s.duration, s.exec]),
      [
        ['0s', '2s', 'cloud'],
        ['2s', '10s', 'cloud'],
        ['14s', '2s', 'edge'],
        ['16s', '10s', 'edge'],
      ],
    );
    const first = o.scenarios.cloud_measure as Record<string, unknown>;
    assert.equal(first.executor, 'constant-arrival-rate');
    assert.deepEqual([first.rate, first.timeUnit, first.maxVUs], [5, '2s', 50]);
    assert.equal(o.noConnectionReuse, true, 'connection: new is k6’s noConnectionReuse');
  });
  it('send the workload’s request, media hits from segments fetched in setup()', () => {
    const r = k6Request(settings, 'c01-r1-x', { edge: 'http://e', cloud: 'http://c' });
    assert.equal(r.path, '/api/v1/media/c01-r1-x-hit/{i%4}');
    assert.deepEqual(
      r.prepare,
      [0, 1, 2, 3].map((i) => `/api/v1/media/c01-r1-x-hit/${i}`),
    );
    const inspect = k6Request({ ...settings, workload: 'inspect', imageWidth: 640, imageHeight: 480 }, 's', {
      edge: '',
      cloud: '',
    });
    assert.equal(inspect.bodyBytes, 640 * 480);
    assert.equal(inspect.headers['content-type'], 'application/octet-stream');
  });
});

describe('reading k6’s CSV output back', () => {
  // The header and rows as k6's csv output writes them (metric samples, tags as columns).
  const csv = [
    'some banner line k6 printed first',
    'metric_name,timestamp,metric_value,check,error,error_code,expected_response,group,method,name,proto,scenario,service,status,subproto,tls_version,url,extra_tags,metadata',
    'http_reqs,1733100000,1.000000,,,,true,,GET,/api/v1/echo,HTTP/1.1,edge_measure,,200,,,http://e/api/v1/echo,,',
    'http_req_duration,1733100000,13.402000,,,,true,,GET,/api/v1/echo,HTTP/1.1,edge_measure,,200,,,http://e/api/v1/echo,,',
    'http_req_duration,1733100000.5,14.1,,,,true,,GET,/api/v1/echo,HTTP/1.1,edge_measure,,200,,,http://e/api/v1/echo,,',
    'http_req_duration,1733100001,31.9,,,,true,,GET,/api/v1/echo,HTTP/1.1,cloud_warmup,,200,,,http://c/api/v1/echo,,',
    'http_req_duration,1733100002,0,,request timeout,1050,false,,GET,/api/v1/echo,HTTP/1.1,cloud_measure,,0,,,http://c/api/v1/echo,,',
    'http_req_duration,1733100003,5,,,,true,,GET,/readyz,HTTP/1.1,,,200,,,http://c/readyz,,',
  ].join('\n');
  it('keeps every experiment request with its site, phase, latency, status and error', () => {
    const rs = parseK6Csv(csv, planned, 'reused');
    assert.deepEqual(
      rs.map((r) => [r.site, r.phase, r.latencyMs, r.status, r.error, r.dueMs]),
      [
        ['edge', 'measure', 13.402, 200, '', 0],
        ['edge', 'measure', 14.1, 200, '', 500],
        ['cloud', 'warmup', 31.9, 200, '', 0],
        ['cloud', 'measure', 0, 0, '1050', 0],
      ],
    );
    assert.ok(rs.every((r) => r.run === 'c01-r1' && r.condition === 'c01'));
  });
  it('finds nothing in a log without the CSV header', () => {
    assert.deepEqual(parseK6Csv('error: something', planned, 'new'), []);
  });
});

describe('the k6 Job on a real kube-apiserver', { skip: skipUnless(kubeBinaries) }, () => {
  let cp: ControlPlane;
  before(async () => {
    cp = await startControlPlane();
  });
  after(() => cp?.stop());

  it('is admitted under Pod Security restricted, and its pod is made for the ue node', async () => {
    await serverSideApply(cp.kc, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'mec-testbed',
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      },
    });
    const job = k6Job({
      runId: planned.id,
      image: 'grafana/k6:test',
      options: k6Options(spec, planned, settings),
      request: k6Request(settings, 's', { edge: 'http://e', cloud: 'http://c' }),
      experiment: 'k',
    });
    await serverSideApply(cp.kc, job);
    const pod = await eventually(
      async () => {
        const { stdout } = await cp.kubectl([
          '-n',
          'mec-testbed',
          'get',
          'pods',
          '-l',
          `job-name=${jobName(planned.id)}`,
          '-o',
          'json',
        ]);
        return (
          JSON.parse(stdout) as {
            items: Array<{
              spec: { nodeSelector: Record<string, string>; containers: Array<{ args: string[] }> };
            }>;
          }
        ).items[0];
      },
      { what: 'the Job controller to create the k6 pod (refused pods would never appear)' },
    );
    assert.equal(pod.spec.nodeSelector['mec-testbed.dev/site'], 'ue');
    assert.ok(pod.spec.containers[0]?.args.includes('csv=/dev/stdout'));
    const { stdout } = await cp.kubectl(['-n', 'mec-testbed', 'get', 'events', '-o', 'json']);
    assert.doesNotMatch(stdout, /violates PodSecurity/);
  });
});
