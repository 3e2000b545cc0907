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
  siteCompute,
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

describe('sites and their compute', () => {
  const links = {
    'ue-edge': { latency: '5ms' },
    'edge-cloud': { latency: '20ms' },
  };
  const doc = (extra: Record<string, unknown>) => ({
    apiVersion: 'mec-testbed.dev/v1alpha1',
    kind: 'LinkProfile',
    name: 'mine',
    links,
    ...extra,
  });
  const problems = (d: unknown) => {
    const r = validateProfile(d);
    return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it('gives every profile the three sites, with the compute the manifests always had', async () => {
    const t = await loadProfile(DEFAULT_PRESET);
    assert.deepEqual(t.sites, ['ue', 'edge', 'cloud']);
    assert.deepEqual(t.siteSpecs, {
      ue: { name: 'ue', role: 'ue', cores: null },
      edge: { name: 'edge', role: 'edge', cores: 0.5 },
      cloud: { name: 'cloud', role: 'cloud', cores: 1 },
    });
    assert.deepEqual(siteCompute(t, 'edge'), { site: 'edge', cores: 0.5, workers: 1, cpuLimit: '500m' });
    assert.deepEqual(siteCompute(t, 'cloud'), { site: 'cloud', cores: 1, workers: 1, cpuLimit: '1' });
    assert.throws(() => siteCompute(t, 'ue'), /ue site: it runs no services/);
  });

  it('takes the cores a profile gives a site, keeping the others', () => {
    const r = validateProfile(
      doc({ sites: { edge: { role: 'edge', cores: 1 }, cloud: { cores: 4 }, ue: null } }),
    );
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.deepEqual(siteCompute(r.topology, 'edge'), { site: 'edge', cores: 1, workers: 1, cpuLimit: '1' });
    assert.deepEqual(siteCompute(r.topology, 'cloud'), {
      site: 'cloud',
      cores: 4,
      workers: 4,
      cpuLimit: '4',
    });
    const frac = validateProfile(doc({ sites: { edge: { cores: 2.5 } } }));
    assert.ok(frac.ok);
    assert.deepEqual(siteCompute(frac.topology, 'edge'), {
      site: 'edge',
      cores: 2.5,
      workers: 3,
      cpuLimit: '2500m',
    });
  });

  it('still reads the three sites written as a list', () => {
    assert.deepEqual(problems(doc({ sites: ['ue', 'edge', 'cloud'] })), []);
  });

  it('refuses what the rest of the testbed cannot run, saying where', () => {
    assert.deepEqual(problems(doc({ sites: { mars: { role: 'edge' } } })), [
      'sites.mars: is not a site of the testbed: it has one site per role, named after it (ue, edge, cloud)',
    ]);
    assert.deepEqual(problems(doc({ sites: ['ue', 'edge', 'cloud', 'far'] })), [
      'sites.3: "far" is not a site of the testbed: it has one site per role, named after it (ue, edge, cloud)',
    ]);
    assert.deepEqual(problems(doc({ sites: { edge: { role: 'cloud' } } })), [
      'sites.edge.role: must be "edge", the role this site is named after, got "cloud"',
    ]);
    assert.deepEqual(problems(doc({ sites: { ue: { cores: 2 } } })), [
      'sites.ue.cores: a ue site runs the load, not services: cores apply to edge and cloud sites',
    ]);
    assert.deepEqual(problems(doc({ sites: { edge: { cores: 0 }, cloud: { cores: 1.0001 } } })), [
      'sites.edge.cores: 0 is not a number of cores; write a number from 0.1 to 64 with at most 3 decimals (0.5, 1, 4)',
      'sites.cloud.cores: 1.0001 is not a number of cores; write a number from 0.1 to 64 with at most 3 decimals (0.5, 1, 4)',
    ]);
  });

  it('refuses a direct ue-cloud link: the testbed routes the UE to the cloud through the edge', () => {
    assert.deepEqual(problems(doc({ links: { ...links, 'ue-cloud': { latency: '1ms' } } })), [
      'links.ue-cloud: joins a ue site to a cloud site; links join ue-edge or edge-cloud (the testbed routes a UE to the cloud through the edge)',
    ]);
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
