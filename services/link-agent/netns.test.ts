// The plan checked by the real tc, inside a throwaway network namespace: netem leaves swapped for pfifo (this
// kernel has no sch_netem), the tree applied, read back with `tc -j`, re-applied (no commands), changed,
// torn down; and the netem probe run for real.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { need, root, skipUnless } from '../../test/support/requirements.ts';
import { PRESETS, topologyFrom } from '../topology/index.ts';
import { desiredTree, diffPlan, formatCommand, type PeerNode, teardownPlan } from './plan.ts';
import { probeNetem } from './probe.ts';
import { applyCommands, ExecRunner, observe } from './runner.ts';

const NS = `mec-test-agent-${randomBytes(3).toString('hex')}`;
const DEV = 'mecveth0';
const PEERS: PeerNode[] = [
  { name: 'edge', site: 'edge', address: '172.18.0.4', podCIDRs: ['10.244.2.0/24'] },
  { name: 'cloud', site: 'cloud', address: '172.18.0.5', podCIDRs: ['10.244.3.0/24'] },
];
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();

describe('the tc plan against the real tc in a network namespace', { skip: skipUnless(root) }, () => {
  const runner = new ExecRunner({ netns: NS });
  const tree = (name: string, peers = PEERS) =>
    desiredTree({
      topology: topologyFrom(PRESETS[name], name),
      site: 'ue',
      peers,
      device: DEV,
      leaf: 'pfifo',
    }).tree;

  before(() => {
    ip('netns', 'add', NS);
    ip('-n', NS, 'link', 'add', DEV, 'type', 'veth', 'peer', 'name', 'mecveth1');
    ip('-n', NS, 'link', 'set', DEV, 'up');
    ip('-n', NS, 'link', 'set', 'mecveth1', 'up');
  });
  after(() => {
    try {
      ip('netns', 'del', NS);
    } catch {
      // already gone
    }
  });

  it('applies the tree, reads it back, re-applies nothing, follows changes, tears down', async () => {
    const first = diffPlan(tree('5g-mec'), await observe(runner, DEV));
    assert.equal(formatCommand(first[0] ?? []), `tc qdisc replace dev ${DEV} root handle ec: htb`);
    await applyCommands(runner, first);

    const seen = await observe(runner, DEV);
    assert.deepEqual(seen.root, { kind: 'htb', handle: 'ec:' });
    assert.deepEqual([...seen.classes.keys()].sort(), ['ec:11', 'ec:2', 'ec:3']);
    assert.deepEqual(seen.classes.get('ec:2'), {
      classid: 'ec:2',
      parent: 'ec:11',
      rateBits: 40e6,
      ceilBits: 80e6,
    });
    assert.deepEqual(seen.leaves.get('ec:3'), { kind: 'pfifo', handle: '103:', options: { limit: 1000 } });
    assert.deepEqual(seen.filters.map((f) => `${f.prio} ${f.match} ${f.flowid}`).sort(), [
      '2 10.244.2.0/24 ec:2',
      '2 172.18.0.4/32 ec:2',
      '3 10.244.3.0/24 ec:3',
      '3 172.18.0.5/32 ec:3',
    ]);
    assert.deepEqual(diffPlan(tree('5g-mec'), seen), [], 'idempotent: nothing to do the second time');

    // A node joins the cloud site, one leaves the edge site, the profile changes rates: applied and read back.
    const peers = [
      { name: 'edge', site: 'edge', address: '172.18.0.4', podCIDRs: [] },
      ...PEERS.slice(1),
      { name: 'cloud-2', site: 'cloud', address: '172.18.0.6', podCIDRs: ['10.244.4.0/24'] },
    ];
    const change = diffPlan(tree('4g-lte', peers), seen);
    await applyCommands(runner, change);
    const after = await observe(runner, DEV);
    assert.equal(after.classes.get('ec:11')?.rateBits, 40e6);
    assert.equal(after.classes.get('ec:2')?.rateBits, 20e6);
    assert.deepEqual(after.filters.map((f) => `${f.prio} ${f.match}`).sort(), [
      '2 172.18.0.4/32',
      '3 10.244.3.0/24',
      '3 10.244.4.0/24',
      '3 172.18.0.5/32',
      '3 172.18.0.6/32',
    ]);
    assert.deepEqual(diffPlan(tree('4g-lte', peers), after), []);

    // Something foreign under our root is removed; then teardown leaves the kernel default.
    await runner.run('tc', [
      'class',
      'add',
      'dev',
      DEV,
      'parent',
      'ec:',
      'classid',
      'ec:9',
      'htb',
      'rate',
      '1mbit',
    ]);
    await runner.run('tc', [
      'filter',
      'add',
      'dev',
      DEV,
      'parent',
      'ec:',
      'protocol',
      'ip',
      'prio',
      '9',
      'u32',
      'match',
      'ip',
      'dst',
      '10.9.0.0/16',
      'flowid',
      'ec:9',
    ]);
    const cleanup = diffPlan(tree('4g-lte', peers), await observe(runner, DEV));
    assert.deepEqual(
      cleanup.map((c) => `${c[0]} ${c[1]}`),
      ['filter del', 'class del'],
    );
    await applyCommands(runner, cleanup);
    assert.deepEqual(diffPlan(tree('4g-lte', peers), await observe(runner, DEV)), []);

    await applyCommands(runner, teardownPlan(DEV, await observe(runner, DEV)));
    const gone = await observe(runner, DEV);
    assert.equal(gone.root?.handle, '0:', 'the kernel default root is back');
    assert.deepEqual(teardownPlan(DEV, gone), []);
  });

  it('applies a pass as one tc batch that stops at the first failing command and names it', async () => {
    const good = ['qdisc', 'replace', 'dev', DEV, 'root', 'handle', 'ec:', 'htb'];
    const bad = ['class', 'replace', 'dev', DEV, 'parent', 'ec:', 'classid', 'ec:1', 'htb', 'rate', 'fast'];
    const never = [
      'class',
      'replace',
      'dev',
      DEV,
      'parent',
      'ec:',
      'classid',
      'ec:2',
      'htb',
      'rate',
      '1mbit',
    ];
    await assert.rejects(applyCommands(runner, [good, bad, never]), (err: Error & { args?: string[] }) => {
      assert.deepEqual(err.args, bad);
      assert.match(err.message, /rate fast/);
      return true;
    });
    const seen = await observe(runner, DEV);
    assert.deepEqual(seen.root, { kind: 'htb', handle: 'ec:' }, 'the command before it ran');
    assert.equal(seen.classes.size, 0, 'none after it ran');
    await applyCommands(runner, teardownPlan(DEV, seen));
  });

  it('leaves a root qdisc it did not create alone', async () => {
    await runner.run('tc', ['qdisc', 'replace', 'dev', DEV, 'root', 'handle', '1:', 'htb']);
    await assert.rejects(async () => diffPlan(tree('5g-mec'), await observe(runner, DEV)), /did not create/);
    assert.deepEqual(teardownPlan(DEV, await observe(runner, DEV)), []);
    await runner.run('tc', ['qdisc', 'del', 'dev', DEV, 'root']);
  });
});

describe('the netem probe, for real', () => {
  it('finds htb, u32 and tbf working and classifies the missing netem with its fix', async (t) => {
    if (!need(t, root)) return;
    const ns = `mec-test-probe-${randomBytes(3).toString('hex')}`;
    const result = await probeNetem(new ExecRunner(), { netns: ns });
    assert.ok(!ip('netns', 'list').includes(ns), 'the throwaway namespace is gone');
    const ok = Object.fromEntries(result.checks.map((c) => [c.check, c.ok]));
    assert.deepEqual(
      { veth: ok.veth, htb: ok.htb, u32: ok.u32, tbf: ok.tbf },
      { veth: true, htb: true, u32: true, tbf: true },
    );
    if (ok.netem) {
      // A kernel with sch_netem (CI machines may have one).
      assert.equal(result.available, true);
      assert.equal(result.fix, undefined);
    } else {
      assert.equal(result.available, false);
      assert.equal(result.cause, 'module-missing');
      assert.match(result.message, /netem failed \(netem: .*qdisc kind is unknown/);
      assert.match(result.fix ?? '', /modprobe sch_netem/);
      assert.match(result.fix ?? '', /proxy backend/);
    }
  });
});
