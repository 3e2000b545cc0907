import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  combine,
  DEFAULT_PRESET,
  loadProfile,
  NO_IMPAIRMENT,
  PRESETS,
  ProfileError,
  parseProfileText,
  pathBetween,
  predictedReduction,
  roundTripSeconds,
  validateProfile,
} from './index.ts';

const close = (a: number, b: number, eps = 1e-9) => assert.ok(Math.abs(a - b) < eps, `${a} ≉ ${b}`);

describe('presets', () => {
  for (const [name, doc] of Object.entries(PRESETS)) {
    it(`${name} validates and every site reaches every other`, () => {
      const result = validateProfile(doc);
      assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
      assert.equal(result.topology.name, name);
      assert.ok(result.topology.sources.length > 0, 'a preset cites its sources');
      assert.ok(predictedReduction(result.topology) > 0, 'the edge is nearer than the cloud');
    });
  }
  it('the default gives the 12 ms vs 30 ms round trips and the 60% operators quote', async () => {
    const t = await loadProfile(DEFAULT_PRESET);
    close(roundTripSeconds(t, 'ue', 'edge'), 0.012);
    close(roundTripSeconds(t, 'ue', 'cloud'), 0.03);
    close(predictedReduction(t), 0.6);
  });
});

describe('path arithmetic', () => {
  it('routes ue to cloud through the edge', async () => {
    const t = await loadProfile('5g-mec');
    assert.deepEqual(
      pathBetween(t, 'ue', 'cloud').map((l) => `${l.from}->${l.to}`),
      ['ue->edge', 'edge->cloud'],
    );
    assert.deepEqual(pathBetween(t, 'edge', 'edge'), []);
  });
  it('adds latency, adds jitter in variance, compounds loss and takes the narrowest rate', () => {
    const c = combine([
      {
        latencySeconds: 0.006,
        jitterSeconds: 0.003,
        distribution: 'normal',
        loss: 0.01,
        rateBitsPerSecond: 80e6,
      },
      {
        latencySeconds: 0.009,
        jitterSeconds: 0.004,
        distribution: 'normal',
        loss: 0.02,
        rateBitsPerSecond: null,
      },
    ]);
    close(c.latencySeconds, 0.015);
    close(c.jitterSeconds, 0.005);
    close(c.loss, 1 - 0.99 * 0.98);
    assert.equal(c.rateBitsPerSecond, 80e6);
    assert.deepEqual(combine([]), { ...NO_IMPAIRMENT });
  });
  it('keeps per-direction rates apart', async () => {
    const t = await loadProfile('5g-mec');
    const up = t.links.find((l) => l.from === 'ue' && l.to === 'edge');
    const down = t.links.find((l) => l.from === 'edge' && l.to === 'ue');
    assert.equal(up?.impairment.rateBitsPerSecond, 80e6);
    assert.equal(down?.impairment.rateBitsPerSecond, 800e6);
  });
});

describe('validation', () => {
  const good = `apiVersion: mec-testbed.dev/v1alpha1
kind: LinkProfile
name: mine
links:
  ue-edge: { latency: 5ms, jitter: 1ms, loss: 0.5%, rate: 100Mbit }
  edge-cloud: { latency: 20ms, distribution: pareto, jitter: 5ms, loss: 0.001 }
`;
  it('accepts a user-written profile', () => {
    const t = parseProfileText(good, 'mine.yaml');
    close(roundTripSeconds(t, 'ue', 'cloud'), 0.05);
  });
  const bad: Array<[string, string, RegExp]> = [
    [
      'unit missing',
      good.replace('latency: 5ms', 'latency: 5'),
      /links\.ue-edge\.latency: 5 is not a duration/,
    ],
    [
      'negative delay',
      good.replace('jitter: 1ms', 'jitter: 9ms'),
      /links\.ue-edge\.jitter: .*exceeds the latency/,
    ],
    ['loss of 100%', good.replace('loss: 0.5%', 'loss: 100%'), /links\.ue-edge\.loss/],
    ['bad rate', good.replace('100Mbit', 'fast'), /links\.ue-edge\.rate: "fast" is not a rate/],
    ['unknown site', good.replace('edge-cloud', 'edge-mars'), /names site "mars"/],
    ['unreachable site', good.replace(/ {2}edge-cloud.*\n/, ''), /no chain of links joins/],
    [
      'typo in a field',
      good.replace('latency: 20ms', 'latncy: 20ms'),
      /links\.edge-cloud\.latncy: is not a known field/,
    ],
    ['bad distribution', good.replace('pareto', 'gauss'), /distribution: must be one of uniform, normal/],
    ['wrong apiVersion', good.replace('v1alpha1', 'v9'), /apiVersion: must be/],
    ['not YAML', 'links: [', /is not valid YAML/],
    ['self link', good.replace('edge-cloud', 'edge-edge'), /two different sites/],
    [
      'wrong direction key',
      good.replace('rate: 100Mbit }', 'rate: 100Mbit, directions: { edge->cloud: {} } }'),
      /is not a direction of this link/,
    ],
  ];
  for (const [what, text, expected] of bad) {
    it(`refuses ${what} and says where`, () => {
      assert.throws(
        () => parseProfileText(text, 'mine.yaml'),
        (err: unknown) =>
          err instanceof ProfileError && expected.test(err.message) && err.message.includes('mine.yaml'),
      );
    });
  }
  it('reports every problem at once', () => {
    const r = validateProfile({ apiVersion: 'x', kind: 'y', name: 'Bad Name', links: {} });
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.problems.length >= 4);
  });
  it('names the presets when given an unknown name', async () => {
    await assert.rejects(loadProfile('6g'), /neither a preset \(5g-mec, /);
  });
});
