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
  pathImpairment,
  predictedReduction,
  prediction,
  roundTripSeconds,
  siteCompute,
  sitePairs,
  topologyFrom,
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
  it('derives numbers without float noise (what the admin API and the gauges show)', () => {
    for (const [name, doc] of Object.entries(PRESETS)) {
      const t = topologyFrom(doc, name);
      const derived = [
        ...sitePairs(t).map(([a, b]) => pathImpairment(t, a, b)),
        ...t.links.map((l) => l.impairment),
        prediction(t),
      ];
      const text = JSON.stringify(derived);
      assert.doesNotMatch(text, /\.\d*(0{6,}|9{6,})\d/, `${name}: ${text}`);
    }
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
  /** Every problem of a profile text, exactly as users read them (file name left out). */
  const problemsOf = (text: string): string[] => {
    try {
      parseProfileText(text, 'mine.yaml');
      return [];
    } catch (err) {
      assert.ok(err instanceof ProfileError, String(err));
      assert.ok(err.message.includes('mine.yaml'), 'the message names the file');
      return err.problems.map((p) => `${p.path}: ${p.message}`);
    }
  };
  it('accepts a user-written profile', () => {
    const t = parseProfileText(good, 'mine.yaml');
    close(roundTripSeconds(t, 'ue', 'cloud'), 0.05);
  });
  const DURATION = 'write a number with a unit: 6ms, 0.5ms, 250us, 1s';
  const cases: Array<[string, string, string[]]> = [
    [
      'the README example',
      good.replace('latency: 5ms', 'latency: "5"').replace('edge-cloud', 'edge-mars'),
      [
        `links.ue-edge.latency: "5" is not a duration; ${DURATION}`,
        'links.edge-mars: names site "mars", which is not declared (sites: ue, edge, cloud)',
      ],
    ],
    [
      'unit missing',
      good.replace('latency: 5ms', 'latency: 5'),
      [`links.ue-edge.latency: 5 is not a duration; ${DURATION}`],
    ],
    [
      'three mistakes in one link, each once',
      good.replace(
        'latency: 5ms, jitter: 1ms, loss: 0.5%, rate: 100Mbit',
        'latency: 5, jitter: 1, rate: fast',
      ),
      [
        `links.ue-edge.latency: 5 is not a duration; ${DURATION}`,
        `links.ue-edge.jitter: 1 is not a duration; ${DURATION}`,
        'links.ue-edge.rate: "fast" is not a rate; write a positive number with a unit: 64kbit, 80Mbit, 10Gbit',
      ],
    ],
    [
      'a mistake in a direction and one in the link',
      good
        .replace('rate: 100Mbit }', 'rate: 100Mbit, directions: { ue->edge: { rate: 1bit } } }')
        .replace('loss: 0.5%', 'loss: 2'),
      [
        'links.ue-edge.loss: 2 is not a loss probability; write a percentage (0.1%) or a fraction from 0 to below 1 (0.001)',
        'links.ue-edge.directions.ue->edge.rate: "1bit" is outside what a link carries: from 1kbit to 1Tbit',
      ],
    ],
    [
      'jitter over latency',
      good.replace('jitter: 1ms', 'jitter: 9ms'),
      ['links.ue-edge.jitter: (9ms) exceeds the latency (5ms); a delay cannot go below zero'],
    ],
    [
      'jitter over latency in one direction only',
      good.replace('rate: 100Mbit }', 'rate: 100Mbit, directions: { edge->ue: { latency: 500us } } }'),
      [
        'links.ue-edge.directions.edge->ue.jitter: (1ms) exceeds the latency (500us); a delay cannot go below zero',
      ],
    ],
    [
      'loss of 100%',
      good.replace('loss: 0.5%', 'loss: 100%'),
      [
        'links.ue-edge.loss: "100%" is not a loss probability; write a percentage (0.1%) or a fraction from 0 to below 1 (0.001)',
      ],
    ],
    [
      'unknown site',
      good.replace('edge-cloud', 'edge-mars'),
      ['links.edge-mars: names site "mars", which is not declared (sites: ue, edge, cloud)'],
    ],
    [
      'a missing link',
      good.replace(/ {2}edge-cloud.*\n/, ''),
      ['links: has no edge-cloud link; the testbed routes through ue-edge and edge-cloud'],
    ],
    [
      'the same link twice',
      `${good}  edge-ue: { latency: 1ms }\n`,
      ['links.edge-ue: joins edge and ue, which link "ue-edge" already joins'],
    ],
    [
      'typo in a field',
      good.replace('latency: 20ms', 'latncy: 20ms'),
      [
        'links.edge-cloud.latncy: is not a known field; allowed here: latency, jitter, distribution, loss, rate, description, directions',
      ],
    ],
    [
      'bad distribution',
      good.replace('pareto', 'gauss'),
      ['links.edge-cloud.distribution: must be one of uniform, normal, pareto, paretonormal, got "gauss"'],
    ],
    [
      'wrong apiVersion',
      good.replace('v1alpha1', 'v9'),
      ['apiVersion: must be "mec-testbed.dev/v1alpha1", got "mec-testbed.dev/v9"'],
    ],
    [
      'self link',
      good.replace('edge-cloud', 'edge-edge'),
      ['links.edge-edge: link names are two different sites joined by "-" (e.g. "ue-edge"), got "edge-edge"'],
    ],
    [
      'wrong direction key',
      good.replace('rate: 100Mbit }', 'rate: 100Mbit, directions: { edge->cloud: {} } }'),
      ['links.ue-edge.directions.edge->cloud: is not a direction of this link; use ue->edge or edge->ue'],
    ],
    [
      'a key written twice',
      `${good}  ue-edge: { latency: 1ms }\n`,
      ['links.ue-edge: is written twice; keep one'],
    ],
    [
      'a long value, quoted short',
      good.replace('100Mbit', 'x'.repeat(5000)),
      [
        `links.ue-edge.rate: "${'x'.repeat(38)}… is not a rate; write a positive number with a unit: 64kbit, 80Mbit, 10Gbit`,
      ],
    ],
  ];
  for (const [what, text, expected] of cases) {
    it(`refuses ${what}, saying exactly where and what`, () => {
      assert.deepEqual(problemsOf(text), expected);
    });
  }
  it('refuses text that is not YAML', () => {
    const problems = problemsOf('links: [');
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^: is not valid YAML: Flow sequence .* at line 1, column 9/);
  });
  it('reports every problem at once', () => {
    const r = validateProfile({ apiVersion: 'x', kind: 'y', name: 'Bad Name', links: {} });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.problems.map((p) => `${p.path}: ${p.message}`),
      [
        'apiVersion: must be "mec-testbed.dev/v1alpha1", got "x"',
        'kind: must be "LinkProfile", got "y"',
        'name: must be lower-case letters, digits and dashes (at most 63), got "Bad Name"',
        'links: must map link names "a-b" (e.g. "ue-edge") to their latency, jitter, loss and rate',
      ],
    );
  });
  it('lists at most 20 problems, counting the rest', () => {
    const links = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`s${i}-t${i}`, {}]));
    const r = validateProfile({
      apiVersion: 'mec-testbed.dev/v1alpha1',
      kind: 'LinkProfile',
      name: 'x',
      links,
    });
    assert.ok(!r.ok);
    assert.equal(r.problems.length, 20);
    assert.deepEqual(r.problems.at(-1), { path: '', message: 'and 81 more problems; fix these first' });
    assert.match(new ProfileError('x.yaml', r.problems).message, /^invalid link profile \(100 problems\):/);
  });
  it('names the presets when given an unknown name', async () => {
    await assert.rejects(loadProfile('6g'), /neither a preset \(5g-mec, /);
  });
});
