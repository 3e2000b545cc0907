// Fuzz: the profile parser that reads files, the ConfigMap and the proxy's admin PUT (parseProfileText). For
// every input it returns a topology whose numbers are finite and in their documented ranges, or throws a
// ProfileError with located problems and a bounded message — never another error, never a hang.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { CORES_RANGE, ProfileError, parseProfileText, type Topology } from '../../services/topology/index.ts';
import { fuzzParser } from '../support/fuzz.ts';
import { profileText } from './profiles.ts';

/** An error message may name the input, but not repeat an unbounded amount of it. */
export const MAX_ERROR_BYTES = 64 * 1024;

export function assertSaneTopology(topology: Topology): void {
  assert.ok(topology.links.length > 0);
  for (const [name, site] of Object.entries(topology.siteSpecs)) {
    if (site.cores === null) continue;
    assert.ok(site.cores >= CORES_RANGE.min && site.cores <= CORES_RANGE.max, `${name} cores ${site.cores}`);
  }
  for (const l of topology.links) {
    const i = l.impairment;
    const at = `${l.from}->${l.to}`;
    assert.ok(
      Number.isFinite(i.latencySeconds) && i.latencySeconds >= 0 && i.latencySeconds <= 10,
      `${at} latency ${i.latencySeconds}`,
    );
    assert.ok(
      Number.isFinite(i.jitterSeconds) && i.jitterSeconds >= 0 && i.jitterSeconds <= i.latencySeconds,
      `${at} jitter ${i.jitterSeconds}`,
    );
    assert.ok(Number.isFinite(i.loss) && i.loss >= 0 && i.loss < 1, `${at} loss ${i.loss}`);
    assert.ok(
      i.rateBitsPerSecond === null || (Number.isFinite(i.rateBitsPerSecond) && i.rateBitsPerSecond > 0),
      `${at} rate ${i.rateBitsPerSecond}`,
    );
  }
}

it('profile text: a sane topology or a bounded ProfileError, for every input', async (t) => {
  const summary = await fuzzParser({
    name: 'profile text',
    inputs: profileText(),
    parse: (text: string) => parseProfileText(text, 'fuzz'),
    refusal: ProfileError,
    accepted: (topology) => assertSaneTopology(topology),
    maxMessageBytes: MAX_ERROR_BYTES,
    budgetMs: 4000,
    minRuns: 50,
  });
  t.diagnostic(`${summary.runs} cases in ${Math.round(summary.elapsedMs)} ms, seed ${summary.seed}`);
});
