import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type DelayRow, judgeDelay, pingCommand, referenceCommand, switchBoundary } from './fidelity.ts';
import { summarize } from './measure.ts';
import { uint32Random } from './netem-model.ts';
import { clusterLayout } from './sites.ts';

const [cp, ue, edge] = clusterLayout(['ue', 'edge', 'cloud']) as [
  ReturnType<typeof clusterLayout>[number],
  ReturnType<typeof clusterLayout>[number],
  ReturnType<typeof clusterLayout>[number],
];
const tol = { marginSeconds: 0.0005, coverage: 0.99, disturbedAboveSeconds: 0.008 };

function row(measured: number[], expected: number[], base: number[]): DelayRow {
  return {
    series: { from: ue, to: edge, kind: 'node', scope: 'path' },
    hops: 2,
    configuredDelay: 0.012,
    configuredJitter: 0,
    expected: summarize(expected),
    expectedSamples: expected,
    measured: summarize(measured),
    base: summarize(base),
    sent: measured.length,
    received: measured.length,
    seconds: 1,
    plannedSeconds: 1,
  };
}

describe('how the netem VM judges', () => {
  it('egress alone is pinged from the unlisted address; the reference crosses as many queues from the control plane', () => {
    const o = { count: 10, intervalSeconds: 0.01 };
    assert.deepEqual(pingCommand({ from: ue, to: edge, kind: 'node', scope: 'egress' }, o).argv.slice(-3), [
      '-I',
      ue.unlistedAddress,
      edge.address,
    ]);
    assert.equal(pingCommand({ from: ue, to: edge, kind: 'pod', scope: 'path' }, o).netns, ue.pod);
    assert.equal(
      referenceCommand(cp, { from: ue, to: edge, kind: 'node', scope: 'egress' }, o).netns,
      cp.name,
    );
    assert.equal(referenceCommand(cp, { from: ue, to: edge, kind: 'pod', scope: 'path' }, o).netns, cp.pod);
  });

  it('a series like its model passes; one shifted by a millisecond does not; a starved reference is not judged', () => {
    const rnd = uint32Random(1);
    const model = Array.from({ length: 20_000 }, () => 0.013 + (rnd() % 1000) / 1e6);
    const like = Array.from({ length: 100 }, () => model[rnd() % model.length] as number);
    const base = Array.from({ length: 100 }, () => 0.001);
    assert.ok(judgeDelay(row(like, model, base), tol).ok);
    assert.ok(
      !judgeDelay(
        row(
          like.map((x) => x + 0.001),
          model,
          base,
        ),
        tol,
      ).ok,
    );
    const starved = judgeDelay(
      row(
        like,
        model,
        base.map(() => 0.02),
      ),
      tol,
    );
    assert.ok(!starved.ok);
    assert.match(starved.disturbed ?? '', /reference/);
  });

  it('a switch counts once a round trip is beyond the new profile tail, and needs the two apart', () => {
    const low = Array.from({ length: 1000 }, (_, k) => 0.03 + k * 1e-5);
    const high = low.map((x) => x + 0.1);
    const up = switchBoundary(low, high, 0.0005);
    assert.ok(up, 'upwards');
    assert.ok(up(0.131) && !up(0.09), 'half switched (one agent) does not count');
    const down = switchBoundary(high, low, 0.0005);
    assert.ok(down, 'downwards');
    assert.ok(down(0.035) && !down(0.09));
    assert.equal(switchBoundary(low, low, 0.0005), undefined);
  });
});
