import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  loadConfig,
  MIXED_SHARES,
  parseDurationSeconds,
  rampStages,
  scenarios,
  thresholds,
  WORKLOADS,
} from '../lib/plan.ts';
import { PREDICTIONS } from '../lib/predictions.gen.ts';

describe('load configuration (MEC_* variables)', () => {
  it('has defaults for every variable', () => {
    const cfg = loadConfig({});
    assert.equal(cfg.rate, 20);
    assert.equal(cfg.duration, '1m');
    assert.equal(cfg.durationSeconds, 60);
    assert.equal(cfg.scenario, 'constant');
    assert.equal(cfg.edgeUrl, 'http://edge.mec-testbed.svc:8080');
    assert.equal(cfg.cloudUrl, 'http://cloud.mec-testbed.svc:8080');
    assert.equal(cfg.profile, '5g-mec');
    assert.equal(cfg.maxVUs, 80);
  });

  it('reads the variables and trims trailing slashes', () => {
    const cfg = loadConfig({
      MEC_RATE: '5.5',
      MEC_DURATION: '1m30s',
      MEC_SCENARIO: 'ramp',
      MEC_EDGE_URL: 'http://127.0.0.1:18080/',
      MEC_MAX_VUS: '7',
      MEC_SUMMARY_DIR: '/tmp/out/',
    });
    assert.equal(cfg.rate, 5.5);
    assert.equal(cfg.durationSeconds, 90);
    assert.equal(cfg.scenario, 'ramp');
    assert.equal(cfg.edgeUrl, 'http://127.0.0.1:18080');
    assert.equal(cfg.maxVUs, 7);
    assert.equal(cfg.summaryDir, '/tmp/out');
  });

  it('refuses bad values, naming the variable and what is allowed', () => {
    assert.throws(
      () => loadConfig({ MEC_RATE: 'fast' }),
      /MEC_RATE="fast" is not valid: a number of requests/,
    );
    assert.throws(() => loadConfig({ MEC_RATE: '0' }), /MEC_RATE/);
    assert.throws(() => loadConfig({ MEC_DURATION: '10 minutes' }), /MEC_DURATION=.*30s, 2m or 1m30s/);
    assert.throws(() => loadConfig({ MEC_SCENARIO: 'closed' }), /MEC_SCENARIO="closed" .*constant or ramp/);
    assert.throws(() => loadConfig({ MEC_CLOUD_URL: 'cloud:8080' }), /MEC_CLOUD_URL=.*http\(s\) URL/);
    assert.throws(() => loadConfig({ MEC_MAX_VUS: '-1' }), /MEC_MAX_VUS/);
  });

  it('parses k6 durations', () => {
    assert.equal(parseDurationSeconds('30s'), 30);
    assert.equal(parseDurationSeconds('2m'), 120);
    assert.equal(parseDurationSeconds('1h2m3s'), 3723);
    assert.equal(parseDurationSeconds('1500ms'), 1.5);
    assert.equal(parseDurationSeconds(''), undefined);
    assert.equal(parseDurationSeconds('0s'), undefined);
    assert.equal(parseDurationSeconds('5 s'), undefined);
  });
});

describe('scenarios', () => {
  it('give edge and cloud the same open-model arrival rate, tagged with site and workload', () => {
    const s = scenarios(
      [{ workload: 'echo', fraction: 1 }],
      loadConfig({ MEC_RATE: '30', MEC_DURATION: '45s' }),
    );
    assert.deepEqual(Object.keys(s), ['echo_edge', 'echo_cloud']);
    for (const site of ['edge', 'cloud']) {
      const sc = s[`echo_${site}`];
      assert.ok(sc && sc.executor === 'constant-arrival-rate');
      assert.equal(sc.rate, 30);
      assert.equal(sc.duration, '45s');
      assert.equal(sc.timeUnit, '1s');
      assert.equal(sc.exec, `echo_${site}`);
      assert.deepEqual(sc.tags, { site, workload: 'echo' });
    }
  });

  it('split MEC_RATE across the mixed shares, each share to both sites', () => {
    const s = scenarios(MIXED_SHARES, loadConfig({ MEC_RATE: '50' }));
    assert.equal(Object.keys(s).length, 6);
    const rate = (name: string) => {
      const sc = s[name];
      return sc?.executor === 'constant-arrival-rate' ? sc.rate : Number.NaN;
    };
    assert.equal(rate('echo_edge'), 30);
    assert.equal(rate('media_cloud'), 15);
    assert.equal(rate('inspect_edge'), 5);
    assert.equal(rate('inspect_edge'), rate('inspect_cloud'));
  });

  it('ramp: up, hold and down within MEC_DURATION', () => {
    const s = scenarios(
      [{ workload: 'media', fraction: 1 }],
      loadConfig({ MEC_SCENARIO: 'ramp', MEC_DURATION: '2m' }),
    );
    const sc = s.media_cloud;
    assert.ok(sc && sc.executor === 'ramping-arrival-rate');
    assert.equal(sc.startRate, 0);
    assert.deepEqual(sc.stages, [
      { target: 20, duration: '30s' },
      { target: 20, duration: '60s' },
      { target: 0, duration: '30s' },
    ]);
    const total = rampStages(7, 61).reduce((t, st) => t + Number.parseInt(st.duration, 10), 0);
    assert.equal(total, 61);
  });
});

describe('thresholds', () => {
  const prediction = PREDICTIONS['5g-mec'];
  assert.ok(prediction);

  it('encode "edge faster than cloud on echo" with the midpoint of the predicted round trips', () => {
    const t = thresholds([{ workload: 'echo', fraction: 1 }], prediction);
    const midpointMs =
      Math.round(((prediction.roundTripSeconds.edge + prediction.roundTripSeconds.cloud) / 2) * 1e5) / 100;
    assert.deepEqual(t['http_req_duration{site:edge,workload:echo}'], ['max>=0', `p(50)<${midpointMs}`]);
    assert.deepEqual(t['http_req_duration{site:cloud,workload:echo}'], ['max>=0', `p(50)>${midpointMs}`]);
  });

  it('give every site and workload an error budget and a sub-metric for the summary', () => {
    const t = thresholds(MIXED_SHARES, prediction);
    for (const workload of WORKLOADS) {
      for (const site of ['edge', 'cloud']) {
        assert.deepEqual(t[`http_req_failed{site:${site},workload:${workload}}`], ['rate<0.01']);
        assert.ok(t[`http_req_duration{site:${site},workload:${workload}}`]);
        assert.ok(t[`http_reqs{site:${site},workload:${workload}}`]);
      }
    }
  });
});

describe('predictions', () => {
  it('the default profile predicts the edge at less than half the cloud round trip', () => {
    const p = PREDICTIONS['5g-mec'];
    assert.ok(p && p.predictedReduction > 0.5 && p.roundTripSeconds.edge < p.roundTripSeconds.cloud);
  });
});
