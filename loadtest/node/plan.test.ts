import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ArrivalScenario,
  arrivalRate,
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
    assert.equal(cfg.rateMilli, 5500);
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
    assert.throws(() => loadConfig({ MEC_RATE: '1.2345' }), /MEC_RATE=.*at most three decimals/);
    assert.throws(() => loadConfig({ MEC_RATE: '10000.001' }), /MEC_RATE=.*to 10000/);
    assert.throws(
      () => loadConfig({ MEC_PREDICTION: '{"profile":"x"}' }),
      /MEC_PREDICTION=.*roundTripSeconds/,
    );
    assert.throws(() => loadConfig({ MEC_PREDICTION: 'not json' }), /MEC_PREDICTION=/);
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

describe('a prediction given whole (MEC_PREDICTION, what make load passes for the profile in force)', () => {
  it('wins over MEC_PROFILE and names the profile', () => {
    const prediction = {
      profile: 'my-lab',
      roundTripSeconds: { edge: 0.02, cloud: 0.05 },
      predictedReduction: 0.6,
    };
    const cfg = loadConfig({ MEC_PROFILE: '5g-mec', MEC_PREDICTION: JSON.stringify(prediction) });
    assert.equal(cfg.profile, 'my-lab');
    assert.deepEqual(cfg.prediction, prediction);
    assert.equal(loadConfig({ MEC_PROFILE: '4g-lte' }).prediction, undefined);
  });
});

/** Go's time.ParseDuration grammar, as k6 reads `timeUnit` (lib/types ParseExtendedDuration), in nanoseconds. */
function goDurationNanos(text: string): bigint | undefined {
  const unit: Record<string, bigint> = {
    ns: 1n,
    us: 1000n,
    µs: 1000n,
    ms: 1_000_000n,
    s: 1_000_000_000n,
    m: 60_000_000_000n,
    h: 3_600_000_000_000n,
  };
  if (!/^(\d+(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0n;
  for (const [, n, u] of text.matchAll(/(\d+)(ns|us|µs|ms|s|m|h)/g))
    total += BigInt(n as string) * (unit[u as string] as bigint);
  return total;
}

/**
 * What k6 refuses when it decodes a scenario (lib/executor: rate, startRate, preAllocatedVUs, maxVUs and each
 * stage's target are null.Int, decoded by encoding/json into an int64, so `5.5` or `1e3` stop it at start).
 */
function k6Problems(name: string, sc: ArrivalScenario): string[] {
  const decoded = JSON.parse(JSON.stringify(sc)) as Record<string, unknown> & {
    stages?: Array<{ target: unknown }>;
  };
  const ints: Array<[string, unknown]> = [
    ['preAllocatedVUs', decoded.preAllocatedVUs],
    ['maxVUs', decoded.maxVUs],
    ...(sc.executor === 'constant-arrival-rate'
      ? [['rate', decoded.rate] as [string, unknown]]
      : [
          ['startRate', decoded.startRate] as [string, unknown],
          ...(decoded.stages ?? []).map((st, i) => [`stages[${i}].target`, st.target] as [string, unknown]),
        ]),
  ];
  const problems = ints
    .filter(([, v]) => !/^-?\d+$/.test(JSON.stringify(v)))
    .map(([field, v]) => `${name}.${field} = ${JSON.stringify(v)} is not an integer`);
  const nanos = goDurationNanos(String(decoded.timeUnit));
  if (!nanos)
    problems.push(`${name}.timeUnit = ${JSON.stringify(decoded.timeUnit)} is not a positive Go duration`);
  return problems;
}

/** requests/s the scenario runs, as an exact fraction [numerator, denominator] of nanoseconds. */
function perSecond(sc: ArrivalScenario): [bigint, bigint] {
  const iterations = sc.executor === 'constant-arrival-rate' ? sc.rate : (sc.stages[0]?.target ?? 0);
  return [BigInt(iterations) * 1_000_000_000n, goDurationNanos(sc.timeUnit) ?? 1n];
}

/** `percent`% of the decimal text, as an exact fraction. */
function asked(rateText: string, percent: number): [bigint, bigint] {
  const [whole = '0', decimals = ''] = rateText.split('.');
  return [BigInt(whole + decimals) * BigInt(percent), 10n ** BigInt(decimals.length) * 100n];
}

describe('k6 accepts the options at every rate and runs exactly the rate asked for', () => {
  const mixedRates = [
    '5',
    '15',
    '25',
    '35',
    '1',
    '2',
    '3',
    '7',
    '0.5',
    '0.001',
    '7.3',
    '12.345',
    '33.333',
    '9999.999',
    '10000',
    '20',
  ];
  const singleRates = ['0.1', '0.25', '2.5', '5.5', '7.25', '33.333', '0.001', '1', '999.9'];
  const cases: Array<[string, typeof MIXED_SHARES, string]> = [
    ...mixedRates.map((r): [string, typeof MIXED_SHARES, string] => ['mixed', MIXED_SHARES, r]),
    ...WORKLOADS.flatMap((w) =>
      singleRates.map((r): [string, typeof MIXED_SHARES, string] => [w, [{ workload: w, percent: 100 }], r]),
    ),
  ];
  for (const scenario of ['constant', 'ramp'] as const) {
    it(`${scenario}: integers where k6 wants them, rate/timeUnit equal to MEC_RATE x share`, () => {
      const problems: string[] = [];
      for (const [script, shares, rate] of cases) {
        const s = scenarios(shares, loadConfig({ MEC_RATE: rate, MEC_SCENARIO: scenario }));
        for (const { workload, percent } of shares) {
          for (const site of ['edge', 'cloud']) {
            const name = `${script} MEC_RATE=${rate} ${workload}_${site}`;
            const sc = s[`${workload}_${site}`];
            assert.ok(sc, name);
            problems.push(...k6Problems(name, sc));
            const [n, d] = perSecond(sc);
            const [an, ad] = asked(rate, percent);
            if (n * ad !== an * d) problems.push(`${name}: runs ${n}/${d} per ns·1e9, asked ${an}/${ad}`);
          }
        }
      }
      assert.deepEqual(problems, []);
    });
  }

  it('keeps whole rates per second and carries fractions in the time unit', () => {
    assert.deepEqual(arrivalRate(20_000, 100), { iterations: 20, timeUnitSeconds: 1 });
    assert.deepEqual(arrivalRate(5_500, 100), { iterations: 11, timeUnitSeconds: 2 });
    assert.deepEqual(arrivalRate(5_000, 30), { iterations: 3, timeUnitSeconds: 2 });
    assert.deepEqual(arrivalRate(5_000, 10), { iterations: 1, timeUnitSeconds: 2 });
    assert.deepEqual(arrivalRate(1, 100), { iterations: 1, timeUnitSeconds: 1000 });
  });
});

describe('scenarios', () => {
  it('give edge and cloud the same open-model arrival rate, tagged with site and workload', () => {
    const s = scenarios(
      [{ workload: 'echo', percent: 100 }],
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
      [{ workload: 'media', percent: 100 }],
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
    const t = thresholds([{ workload: 'echo', percent: 100 }], prediction);
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
