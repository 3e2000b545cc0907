// The netem backend on real netem: a stock Debian kernel under qemu (TCG), sites as network namespaces wired
// like kind nodes, the link agent itself on each site node against a real kube-apiserver on the host (testbed.ts).
// What the agent promises and only a kernel with sch_netem can show: the profile's delays between node IPs and
// pod IPs (egress alone and whole path), its loss and rate, a profile change followed within 5 s, an invalid
// profile changing nothing, the control plane and the outside undelayed, and a clean shutdown that leaves a
// qdisc the agent did not create alone. Short series; `make netem-vm-bench` measures every preset at length.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { PRESETS, parseProfileText, type Topology } from '../../services/topology/index.ts';
import { kubeBinaries } from '../../test/support/kube.ts';
import { skipUnless } from '../../test/support/requirements.ts';
import {
  allSeries,
  configuredRate,
  type DelayRow,
  expectedRoundTrips,
  leafTowards,
  measureDelaysJudged,
  measureLoss,
  measureRate,
  measureSwitch,
  ping,
  REFERENCE_DELAY_SECONDS,
  referenceCommand,
  type Series,
  seriesKey,
  switchBoundary,
  TCP_GOODPUT_PER_WIRE_BIT,
  type Tolerance,
  withReferenceQueues,
} from './fidelity.ts';
import { lossConsistent, qdiscCounters, quantile } from './measure.ts';
import { loadTables } from './netem-model.ts';
import { GATEWAY, OUTSIDE } from './sites.ts';
import { DEVICE, profileText, VmTestbed } from './testbed.ts';
import { netemVmHost } from './vm.ts';

const PING = { count: 100, intervalSeconds: 0.01, parallel: 2 };
const ATTEMPTS = 3;
/** See fidelity.ts's Tolerance for what each covers. */
const TOLERANCE: Tolerance = { marginSeconds: 0.0005, coverage: 0.99, disturbedAboveSeconds: 0.008 };
const tables = loadTables();
const topology = (preset: string): Topology => parseProfileText(profileText(preset), preset);
const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;

function report(
  t: { diagnostic(m: string): void },
  preset: string,
  rows: Array<{ row: DelayRow; attempts: number }>,
) {
  for (const { row, attempts } of rows)
    t.diagnostic(
      `${preset} ${seriesKey(row.series).padEnd(26)} configured ${ms(row.configuredDelay)} ± ${ms(row.configuredJitter)}; ` +
        `expected p50 ${ms(row.expected.p50)} p99 ${ms(row.expected.p99)}, measured p50 ${ms(row.measured.p50)} ` +
        `p99 ${ms(row.measured.p99)} (base p50 ${ms(row.base.p50)}; ${attempts} attempt${attempts > 1 ? 's' : ''})`,
    );
}

describe('the netem backend on real netem (a Debian kernel under qemu, the link agent on each site)', {
  skip: skipUnless(() => netemVmHost() ?? kubeBinaries()),
  timeout: 30 * 60_000,
}, () => {
  let tb: VmTestbed;
  const tol = TOLERANCE;
  const snapshots = new Map<string, string>();
  let unshapedGoodput = 0;

  before(async () => {
    tb = await VmTestbed.start({ log: (m) => process.stderr.write(`[netem-vm] ${m}\n`) });
    const ue = tb.node('ue');
    // Qdiscs the agent did not create, on the device it shapes and beside it: they must outlive the agent.
    await tb.vm.run(['/sbin/tc', 'qdisc', 'add', 'dev', DEVICE, 'ingress'], { netns: ue.name });
    await tb.vm.run(
      [
        '/sbin/tc',
        'qdisc',
        'add',
        'dev',
        'vpod',
        'root',
        'handle',
        '7:',
        'tbf',
        'rate',
        '1gbit',
        'burst',
        '64kb',
        'latency',
        '50ms',
      ],
      { netns: ue.name },
    );
    for (const n of tb.sites()) snapshots.set(n.name, await tb.tcSnapshot(n.name));
    unshapedGoodput = await tb.bulk(ue, tb.node('edge'), 3);
    process.stderr.write(
      `[netem-vm] unshaped goodput ue->edge ${(unshapedGoodput / 1e6).toFixed(0)} Mbit/s\n`,
    );
    tb.startAgents();
    await tb.agentsInSync('5g-mec');
  });
  after(async () => {
    await tb?.stop();
  });

  // 5g-mec in full; congested-backhaul (heavy-tailed jitter) between node IPs, which pod IPs share classes with.
  const cases = [
    { preset: '5g-mec', kinds: ['node', 'pod'], what: 'node and pod IPs' },
    { preset: 'congested-backhaul', kinds: ['node'], what: 'node IPs' },
  ];
  for (const { preset, kinds, what } of cases) {
    it(`${preset}: every ordered pair, ${what}, egress alone and whole path, as the profile says`, async (t) => {
      await tb.setProfile(preset);
      await tb.agentsInSync(preset);
      const series = allSeries(tb.sites()).filter((s) => kinds.includes(s.kind));
      const rows = await measureDelaysJudged(tb, topology(preset), series, PING, tables, tol, ATTEMPTS);
      report(t, preset, rows);
      const bad = rows.filter((r) => !r.judgement.ok);
      assert.deepEqual(
        bad.map(({ row, judgement: j }) =>
          j.disturbed
            ? `${seriesKey(row.series)}: the host disturbed every attempt (${j.disturbed})`
            : `${seriesKey(row.series)}: p50 ${ms(row.measured.p50)} (allowed ${ms(j.p50.low)}..${ms(j.p50.high)}), ` +
              `p99 ${ms(row.measured.p99)} (allowed ${ms(j.p99.low)}..${ms(j.p99.high)})`,
        ),
        [],
      );
    });
  }

  it('congested-backhaul: the edge->cloud netem leaf drops 1% of the packets', async (t) => {
    await tb.setProfile('congested-backhaul');
    await tb.agentsInSync('congested-backhaul');
    const edge = tb.node('edge');
    const cloud = tb.node('cloud');
    const loss = await measureLoss(tb, topology('congested-backhaul'), edge, cloud, 5000, 2000);
    const bound = lossConsistent(loss.drops, loss.packets, loss.configured);
    t.diagnostic(
      `${loss.drops} of ${loss.packets} dropped (configured ${loss.configured * 100}%: ${bound.low}..${bound.high})`,
    );
    assert.equal(loss.packets, loss.sent, 'every datagram sent was counted by the leaf, passed or dropped');
    assert.ok(bound.ok, `${loss.drops} drops of ${loss.packets}: outside ${bound.low}..${bound.high}`);
  });

  it('a bulk transfer gets the path rate (ue->edge set to an eighth of what the VM carries unshaped)', async (t) => {
    // Preset rates (80 Mbit/s up, 800 down) exceed what a TCG guest carries; a rate the VM exceeds 8× shows the
    // shaping itself. A starved VM also shapes slower (netem releases on timers), so a miss is measured again
    // with the rate derived from what the VM carried unshaped just then.
    const ue = tb.node('ue');
    const edge = tb.node('edge');
    let unshaped = unshapedGoodput;
    let verdict = '';
    for (let k = 1; k <= ATTEMPTS; k++) {
      const rate = Math.max(1, Math.floor(unshaped / 8 / 1e6));
      const doc = structuredClone(PRESETS['5g-mec']) as Record<string, unknown> & {
        links: Record<string, Record<string, unknown>>;
      };
      doc.name = `netem-vm-rate-${rate}`;
      // No loss on it: TCP's answer to random loss would measure TCP, not the rate.
      (doc.links['ue-edge'] as Record<string, unknown>).directions = {
        'ue->edge': { rate: `${rate}Mbit`, loss: '0%' },
      };
      await tb.setProfile(stringify(doc));
      await tb.agentsInSync(doc.name as string);
      const expected =
        (configuredRate(topology(stringify(doc)), ue, edge) as number) * TCP_GOODPUT_PER_WIRE_BIT;
      const row = await measureRate(tb, topology(stringify(doc)), ue, edge, 4);
      const ok = row.measured <= expected * 1.03 && row.measured >= expected * 0.85;
      verdict = `attempt ${k}: configured ${rate} Mbit/s, goodput ${(row.measured / 1e6).toFixed(2)} Mbit/s, expected ${(expected / 1e6).toFixed(2)} (unshaped just before: ${(row.base / 1e6).toFixed(1)})`;
      t.diagnostic(verdict);
      if (ok) return;
      unshaped = row.base;
    }
    assert.fail(`the goodput missed the rate in every attempt; last: ${verdict}`);
  });

  it('a profile change is followed within 5 s', async (t) => {
    const s: Series = { from: tb.node('ue'), to: tb.node('cloud'), kind: 'node', scope: 'path' };
    const o = { count: 30, intervalSeconds: 0.02 };
    // A switch timed while the host starved the VM (its reference echoes late) says nothing about the agent:
    // measured again, in the other direction.
    const order = ['5g-mec', 'far-cloud', '5g-mec', 'far-cloud'];
    await tb.setProfile(order[0] as string);
    await tb.agentsInSync(order[0] as string);
    for (let k = 1; k <= ATTEMPTS; k++) {
      const [from, to] = [order[k - 1] as string, order[k] as string];
      const base = (
        await withReferenceQueues(tb, () => ping(tb, referenceCommand(tb.controlPlane(), s, o), o))
      ).roundTrips.map((r) => r - 2 * REFERENCE_DELAY_SECONDS);
      // The new profile's echoes are told from the old ones by a round trip the old profile does not reach (the
      // models' 0.1% tails with the VM's own round trip through two netem queues, measured now).
      const inNew = switchBoundary(
        expectedRoundTrips(topology(from), s, base, PING, tables),
        expectedRoundTrips(topology(to), s, base, PING, tables),
        tol.marginSeconds,
      );
      assert.ok(inNew, "the two profiles' round trips overlap");
      const watch = { count: 200, intervalSeconds: 0.02 };
      const [result, reference] = await withReferenceQueues(tb, () =>
        Promise.all([
          measureSwitch(tb, s, to, inNew, { intervalSeconds: 0.02, timeoutSeconds: 30 }),
          ping(tb, referenceCommand(tb.controlPlane(), s, watch), watch),
        ]),
      );
      const late = quantile(reference.roundTrips, 0.5) - 2 * REFERENCE_DELAY_SECONDS;
      t.diagnostic(
        `${from} -> ${to}: first echo with the new delay ${result.seconds.toFixed(2)} s after the apply was sent ` +
          `(round trip ${ms(result.roundTrip)}; before: p50 ${ms(quantile(result.before, 0.5))}; the VM's own ` +
          `round trip through two queues meanwhile: p50 ${ms(late)})`,
      );
      await tb.agentsInSync(to);
      if (
        late <= tol.disturbedAboveSeconds &&
        reference.seconds <= 2 * watch.count * watch.intervalSeconds + 0.5
      ) {
        assert.ok(result.seconds <= 5, `followed after ${result.seconds} s`);
        return;
      }
    }
    assert.fail('the host disturbed the VM in every attempt');
  });

  it('an invalid profile changes nothing: the tree stays, the agents say why', async () => {
    await tb.setProfile('far-cloud');
    await tb.agentsInSync('far-cloud');
    const before = new Map(
      await Promise.all(tb.sites().map(async (n) => [n.name, await tb.tcSnapshot(n.name)] as const)),
    );
    await tb.setProfile(stringify(PRESETS['4g-lte']).replace('rate: 1Gbit', 'rate: fast'));
    for (const n of tb.sites()) {
      const s = await waitStatus(tb, n.name, (st) => st.profileProblems.length > 0);
      assert.equal(s.profile, 'far-cloud');
      assert.match(s.profileProblems.join('\n'), /rate: "fast" is not a rate/);
    }
    for (const n of tb.sites())
      assert.equal(await tb.tcSnapshot(n.name), before.get(n.name), `${n.name}'s tree`);
  });

  it('traffic to the control plane, the gateway and outside the sites crosses no netem queue', async (t) => {
    const targets = [tb.controlPlane().address, GATEWAY, OUTSIDE];
    const smallest = Math.min(...topology('far-cloud').links.map((l) => l.impairment.latencySeconds));
    for (const n of tb.sites()) {
      const leaves = new Set(
        await Promise.all(
          tb
            .sites()
            .filter((p) => p !== n)
            .map((p) => leafTowards(tb, n, p)),
        ),
      );
      const count = async () =>
        [...qdiscCounters(await tb.tcJson(n.name, ['qdisc', 'show', 'dev', DEVICE]))]
          .filter(([h]) => leaves.has(h))
          .reduce((sum, [, c]) => sum + c.packets + c.drops, 0);
      const before = await count();
      for (const target of targets) {
        const out = await tb.vm.run(['/usr/bin/ping', '-n', '-c', '20', '-i', '0.02', target], {
          netns: n.name,
        });
        const p50 = quantile(
          [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]) / 1000),
          0.5,
        );
        t.diagnostic(`${n.site} -> ${target}: p50 ${ms(p50)}`);
        assert.ok(
          p50 < smallest / 2,
          `${n.site} -> ${target} p50 ${ms(p50)}: not below half the smallest delay set`,
        );
      }
      assert.equal(await count(), before, `${n.name}: no packet entered a netem leaf`);
    }
  });

  it('on SIGTERM each agent removes exactly what it created; the qdiscs it did not create stay as they were', async () => {
    for (const n of tb.sites()) {
      assert.equal(await tb.stopAgent(n.name), 0, `${n.name}'s agent exit code`);
      assert.equal(await tb.tcSnapshot(n.name), snapshots.get(n.name), `${n.name} as before the agent`);
    }
    assert.match(snapshots.get(tb.node('ue').name) ?? '', /"kind":"ingress"/);
    assert.match(snapshots.get(tb.node('ue').name) ?? '', /"kind":"tbf"/);
  });
});

async function waitStatus(
  tb: VmTestbed,
  node: string,
  ok: (s: NonNullable<Awaited<ReturnType<VmTestbed['status']>>>) => boolean,
) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await tb.status(node);
    if (s && ok(s)) return s;
    if (Date.now() > deadline) throw new Error(`${node}'s status never showed it: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
