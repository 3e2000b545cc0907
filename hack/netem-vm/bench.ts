// The netem backend measured on real netem, every preset (a benchmark, not a test; `make netem-vm-bench`).
// One VM and control plane (testbed.ts), the link agent on each site; for each preset in turn: the switch from
// the previous one (seconds until the echoes show the new delay), then per ordered pair of sites the round
// trip between node IPs and between pod IPs, egress alone and whole path (p50 and p99 against the model fed
// the VM's own round trip through as many plain netem queues, measured beside each series; jitter as standard
// deviations), the loss the source's netem leaf counted for a burst of datagrams, and a bulk transfer's
// goodput against the path's rate (and what the VM carries unshaped right before: a rate above that is the VM's
// limit, not the agent's). Prints one table; --json writes every figure.
//   node hack/netem-vm/bench.ts [--presets a,b] [--count 200] [--interval 0.01] [--loss-packets 20000]
//                               [--rate-seconds 3] [--json FILE]
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  PRESET_NAMES,
  parseProfileText,
  roundTripSeconds,
  type Topology,
} from '../../services/topology/index.ts';
import {
  allSeries,
  type DelayRow,
  expectedRoundTrips,
  type Judgement,
  type LossRow,
  measureDelaysJudged,
  measureLoss,
  measureRate,
  measureSwitch,
  ping,
  type RateRow,
  REFERENCE_DELAY_SECONDS,
  referenceCommand,
  type Series,
  type SwitchResult,
  switchBoundary,
  TCP_GOODPUT_PER_WIRE_BIT,
  type Tolerance,
  withReferenceQueues,
} from './fidelity.ts';
import { quantile } from './measure.ts';
import { loadTables } from './netem-model.ts';
import { profileText, VmTestbed } from './testbed.ts';

const { values: flags } = parseArgs({
  options: {
    presets: { type: 'string', default: PRESET_NAMES.join(',') },
    count: { type: 'string', default: '200' },
    interval: { type: 'string', default: '0.01' },
    'loss-packets': { type: 'string', default: '20000' },
    'rate-seconds': { type: 'string', default: '3' },
    json: { type: 'string' },
  },
});
const presets = (flags.presets ?? '').split(',').filter(Boolean);
for (const p of presets)
  if (!PRESET_NAMES.includes(p)) throw new Error(`unknown preset ${p} (${PRESET_NAMES.join(', ')})`);
const PING = {
  count: Number(flags.count),
  intervalSeconds: Number(flags.interval),
  parallel: 2,
  control: true,
};
const TOLERANCE: Tolerance = { marginSeconds: 0.0005, coverage: 0.99, disturbedAboveSeconds: 0.008 };
const tables = loadTables();
const topology = (p: string): Topology => parseProfileText(profileText(p), p);
const ms = (s: number) => (s * 1000).toFixed(2);
const log = (m: string) => process.stderr.write(`[netem-vm-bench] ${m}\n`);

interface PresetResult {
  preset: string;
  switchFrom?: string;
  switched?: SwitchResult | string;
  delays: Array<{ row: DelayRow; judgement: Judgement; attempts: number }>;
  loss: LossRow[];
  rate: RateRow[];
}

async function switchTo(tb: VmTestbed, from: string, to: string): Promise<SwitchResult | string> {
  // The ordered pair whose whole-path round trip tells the two profiles apart best.
  const o = { count: 40, intervalSeconds: 0.02 };
  const candidates = allSeries(tb.sites()).filter((s) => s.kind === 'node' && s.scope === 'path');
  for (const s of candidates.sort((a, b) => separation(b, from, to) - separation(a, from, to))) {
    const reference = await withReferenceQueues(tb, () =>
      ping(tb, referenceCommand(tb.controlPlane(), s, o), o),
    );
    const base = reference.roundTrips.map((r) => r - 2 * REFERENCE_DELAY_SECONDS);
    const inNew = switchBoundary(
      expectedRoundTrips(topology(from), s, base, o, tables),
      expectedRoundTrips(topology(to), s, base, o, tables),
      TOLERANCE.marginSeconds,
    );
    if (inNew) return measureSwitch(tb, s, to, inNew, { intervalSeconds: 0.02, timeoutSeconds: 30 });
  }
  await tb.setProfile(to);
  return `no pair's round trip tells ${from} from ${to}`;
}

function separation(s: Series, from: string, to: string): number {
  const rtt = (p: string) => roundTripSeconds(topology(p), s.from.site as string, s.to.site as string);
  return Math.abs(rtt(to) - rtt(from));
}

async function measurePreset(tb: VmTestbed, preset: string, previous?: string): Promise<PresetResult> {
  const result: PresetResult = { preset, delays: [], loss: [], rate: [] };
  if (previous) {
    result.switchFrom = previous;
    result.switched = await switchTo(tb, previous, preset);
  } else await tb.setProfile(preset);
  await tb.agentsInSync(preset);
  log(`${preset}: delays`);
  result.delays = await measureDelaysJudged(
    tb,
    topology(preset),
    allSeries(tb.sites()),
    PING,
    tables,
    TOLERANCE,
    3,
  );
  for (const from of tb.sites())
    for (const to of tb.sites()) {
      if (from === to) continue;
      log(`${preset}: loss and rate ${from.site} -> ${to.site}`);
      result.loss.push(
        await measureLoss(tb, topology(preset), from, to, Number(flags['loss-packets']), 4000),
      );
      result.rate.push(await measureRate(tb, topology(preset), from, to, Number(flags['rate-seconds'])));
    }
  return result;
}

function table(results: PresetResult[]): string {
  const lines = [
    '| preset | pair | IPs | crossing | configured one-way sum ± jitter | expected p50 / p99 | measured p50 / p99 | error p50 / p99 | sd expected / measured | loss configured / counted | rate configured / goodput (unshaped) |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    for (const { row, judgement, attempts } of r.delays) {
      const s = row.series;
      const lossRow = r.loss.find((l) => l.from === s.from && l.to === s.to);
      const rateRow = r.rate.find((l) => l.from === s.from && l.to === s.to);
      const first = s.kind === 'node' && s.scope === 'egress';
      const loss =
        first && lossRow
          ? `${(lossRow.configured * 100).toFixed(3)}% / ${((lossRow.drops / lossRow.packets) * 100).toFixed(3)}% (${lossRow.drops}/${lossRow.packets})`
          : '';
      const rate =
        first && rateRow
          ? `${rateRow.configured === null ? 'none' : `${rateRow.configured / 1e6}`} / ${(rateRow.measured / 1e6).toFixed(1)} (${(rateRow.base / 1e6).toFixed(0)}) Mbit/s${rateRow.configured !== null && rateRow.base < 2 * rateRow.configured * TCP_GOODPUT_PER_WIRE_BIT ? ' VM-bound' : ''}`
          : '';
      const mark = judgement.disturbed ? ' (host disturbed)' : judgement.ok ? '' : ' ✗';
      lines.push(
        `| ${r.preset} | ${s.from.site}→${s.to.site} | ${s.kind} | ${s.scope === 'egress' ? 'egress' : 'path'} | ` +
          `${ms(row.configuredDelay)} ± ${ms(row.configuredJitter)} | ${ms(row.expected.p50)} / ${ms(row.expected.p99)} | ` +
          `${ms(row.measured.p50)} / ${ms(row.measured.p99)} | ${ms(row.measured.p50 - row.expected.p50)} / ` +
          `${ms(row.measured.p99 - row.expected.p99)}${mark}${attempts > 1 ? ` [${attempts}]` : ''} | ` +
          `${ms(row.expected.sd)} / ${ms(row.measured.sd)} | ${loss} | ${rate} |`,
      );
    }
  }
  return lines.join('\n');
}

function summary(results: PresetResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const errors = r.delays
      .filter((d) => !d.judgement.disturbed)
      .map((d) => d.row.measured.p50 - d.row.expected.p50);
    const errors99 = r.delays
      .filter((d) => !d.judgement.disturbed)
      .map((d) => d.row.measured.p99 - d.row.expected.p99);
    const excess = r.delays.flatMap(({ row }) =>
      row.control ? [(row.base.p50 - row.control.p50) / row.hops] : [],
    );
    const abs = (xs: number[]) => xs.map(Math.abs);
    const sw =
      r.switched === undefined
        ? ''
        : typeof r.switched === 'string'
          ? `; switch from ${r.switchFrom}: ${r.switched}`
          : `; switch from ${r.switchFrom}: ${r.switched.seconds.toFixed(2)} s`;
    out.push(
      `${r.preset}: |p50 error| median ${ms(quantile(abs(errors), 0.5))} ms, max ${ms(Math.max(...abs(errors)))} ms; ` +
        `|p99 error| median ${ms(quantile(abs(errors99), 0.5))} ms; outside the test's tolerance: ` +
        `${r.delays.filter((d) => !d.judgement.ok).length}/${r.delays.length}; TCG adds ${ms(quantile(excess, 0.5))} ms per netem queue${sw}`,
    );
  }
  return out.join('\n');
}

const started = Date.now();
const tb = await VmTestbed.start({ log });
const results: PresetResult[] = [];
try {
  tb.startAgents();
  await tb.agentsInSync('5g-mec');
  let previous: string | undefined;
  for (const preset of presets) {
    results.push(await measurePreset(tb, preset, previous));
    previous = preset;
  }
} finally {
  await tb.stop();
}
process.stdout.write(`${table(results)}\n\n${summary(results)}\n`);
process.stdout.write(
  `\n(${PING.count} echoes every ${PING.intervalSeconds * 1000} ms per series; ${Math.round((Date.now() - started) / 1000)} s in all)\n`,
);
if (flags.json)
  writeFileSync(
    flags.json,
    JSON.stringify(
      results.map((r) => ({
        ...r,
        delays: r.delays.map(({ row, judgement, attempts }) => ({
          ...row,
          expectedSamples: undefined,
          series: {
            from: row.series.from.site,
            to: row.series.to.site,
            kind: row.series.kind,
            scope: row.series.scope,
          },
          judgement,
          attempts,
        })),
        loss: r.loss.map((l) => ({ ...l, from: l.from.site, to: l.to.site })),
        rate: r.rate.map((l) => ({ ...l, from: l.from.site, to: l.to.site })),
      })),
      null,
      2,
    ),
  );
