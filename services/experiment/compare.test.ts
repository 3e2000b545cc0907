// experiment-compare on synthetic result sets: conditions matched by their settings (not their ids), a real
// shift found, no shift not found, drifted runs left out, and the test stated in the output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Analysis, RunSiteStats } from './analysis.ts';
import { compareAnalyses, comparisonText, TEST_STATEMENT } from './compare.ts';

function analysis(
  conditions: Array<{ id: string; rate: number }>,
  p50: (id: string, site: string, r: number) => number,
): Analysis {
  const rows: RunSiteStats[] = [];
  for (const c of conditions)
    for (const site of ['edge', 'cloud'] as const)
      for (let r = 1; r <= 8; r++) {
        const v = p50(c.id, site, r);
        rows.push({
          run: `${c.id}-r${r}`,
          condition: c.id,
          repetition: r,
          site,
          requests: 100,
          ok: 100,
          errors: 0,
          dropped: 0,
          newConnections: 0,
          meanMs: v,
          percentiles: { p50: v, p90: v + 5, p99: v + 20 },
          predictedMs: 12,
          calibrationRttMs: 12,
          calibrationPredictedRttMs: 12,
          drifted: r === 8 && c.id === 'c99',
        });
      }
  return {
    rows,
    stored: {
      conditions: conditions.map((c) => ({ id: c.id, label: `rate=${c.rate}`, values: { rate: c.rate } })),
    },
  } as unknown as Analysis;
}

describe('experiment-compare', () => {
  const a = analysis(
    [
      { id: 'c01', rate: 10 },
      { id: 'c02', rate: 20 },
    ],
    (id, site, r) => (site === 'edge' ? 14 : 32) + r * 0.1 + (id === 'c02' ? 1 : 0),
  );
  // B lists the same conditions in another order; at rate 20 its edge is 5 ms slower.
  const b = analysis(
    [
      { id: 'c01', rate: 20 },
      { id: 'c02', rate: 10 },
    ],
    (id, site, r) =>
      (site === 'edge' ? 14 : 32) + r * 0.1 + 0.05 + (id === 'c01' ? 1 + (site === 'edge' ? 5 : 0) : 0),
  );
  const cs = compareAnalyses(a, b);

  it('matches conditions by their settings and compares every site and percentile', () => {
    assert.equal(cs.length, 2 * 2 * 3);
    assert.deepEqual([...new Set(cs.map((c) => c.condition))].sort(), ['rate=10', 'rate=20']);
  });
  it('finds the 5 ms shift and nothing where there is none, after Holm', () => {
    const differ = cs.filter((c) => c.significant).map((c) => `${c.condition} ${c.site} ${c.percentile}`);
    assert.deepEqual(differ.sort(), ['rate=20 edge p50', 'rate=20 edge p90', 'rate=20 edge p99']);
    const shifted = cs.find((c) => c.condition === 'rate=20' && c.site === 'edge' && c.percentile === 'p50');
    assert.ok(shifted && Math.abs(shifted.shiftMs - 5.05) < 1e-9);
    assert.ok(cs.every((c) => c.pAdjusted >= c.p));
  });
  it('states the test it ran', () => {
    const text = comparisonText('A', 'B', cs);
    assert.ok(text.includes(TEST_STATEMENT));
    assert.match(text, /3 of 12 comparisons differ at α = 0.05 after Holm's adjustment/);
  });
});
