import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_IMPAIRMENT } from '../../services/topology/index.ts';
import { quantile, standardDeviation } from './measure.ts';
import {
  loadTables,
  modelRoundTrips,
  netemDelay,
  netemHop,
  PING_FRAME_BYTES,
  parseDistTable,
  uint32Random,
} from './netem-model.ts';

const tables = loadTables();
const ms = 0.001;

describe('netem model', () => {
  it('reads iproute2 distribution tables', () => {
    assert.equal(tables.normal?.length, 4096);
    assert.equal(tables.normal?.[0], -32768, 'four standard deviations below, at netem scale 8192');
    assert.deepEqual([...parseDistTable('# comment\n 1 -2\n3 # x\n')], [1, -2, 3]);
    assert.throws(() => parseDistTable('# nothing'), /not a netem distribution table/);
  });

  it('draws delays as tabledist() does: normal around the latency with the jitter as standard deviation', () => {
    const rnd = uint32Random(3);
    const i = {
      ...NO_IMPAIRMENT,
      latencySeconds: 6 * ms,
      jitterSeconds: 2 * ms,
      distribution: 'normal' as const,
    };
    const d = Array.from({ length: 100_000 }, () => netemDelay(i, tables, rnd));
    assert.ok(Math.abs(quantile(d, 0.5) - 6 * ms) < 0.05 * ms);
    assert.ok(Math.abs(standardDeviation(d) - 2 * ms) < 0.05 * ms);
  });

  it('uniform jitter stays within latency ± jitter; no jitter is the latency exactly', () => {
    const rnd = uint32Random(5);
    const i = {
      ...NO_IMPAIRMENT,
      latencySeconds: 10 * ms,
      jitterSeconds: 1 * ms,
      distribution: 'uniform' as const,
    };
    const d = Array.from({ length: 20_000 }, () => netemDelay(i, tables, rnd));
    assert.ok(Math.min(...d) >= 9 * ms && Math.max(...d) < 11 * ms);
    assert.equal(netemDelay({ ...NO_IMPAIRMENT, latencySeconds: 0.005 }, tables, rnd), 0.005);
  });

  it('with a rate, a packet never leaves before the one ahead of it and pays its transmission time', () => {
    const rnd = uint32Random(9);
    const i = {
      ...NO_IMPAIRMENT,
      latencySeconds: 30 * ms,
      jitterSeconds: 15 * ms,
      distribution: 'paretonormal' as const,
      rateBitsPerSecond: 50e6,
    };
    const enter = Array.from({ length: 2000 }, (_, k) => k * 0.001);
    const leave = netemHop(i, enter, tables, rnd);
    for (let k = 1; k < leave.length; k++) assert.ok((leave[k] as number) >= (leave[k - 1] as number));
    for (let k = 0; k < leave.length; k++)
      assert.ok((leave[k] as number) >= (enter[k] as number) + (PING_FRAME_BYTES * 8) / 50e6);
    const free = netemHop({ ...i, rateBitsPerSecond: null }, enter, tables, uint32Random(9));
    assert.ok(
      free.some((t, k) => k > 0 && t < (free[k - 1] as number)),
      'without a rate jitter reorders',
    );
  });

  it('a round trip is the base plus each queue crossed', () => {
    const fixed = { ...NO_IMPAIRMENT, latencySeconds: 10 * ms };
    const egress = modelRoundTrips(
      { forward: fixed, intervalSeconds: 0.02, base: [1 * ms], count: 100 },
      tables,
    );
    assert.ok(egress.every((r) => Math.abs(r - 11 * ms) < 1e-9));
    const path = modelRoundTrips(
      { forward: fixed, reverse: fixed, intervalSeconds: 0.02, base: [1 * ms], count: 100 },
      tables,
    );
    assert.ok(path.every((r) => Math.abs(r - 21 * ms) < 1e-9));
    assert.throws(() => modelRoundTrips({ forward: fixed, intervalSeconds: 0.02, base: [] }, tables), /base/);
  });
});
