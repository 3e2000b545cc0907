import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Node } from '@kubernetes/client-node';
import { PRESETS, pathImpairment, topologyFrom } from '../topology/index.ts';
import { nodeView, peersOf } from './nodes.ts';
import { parseObserved, parseTcRate, u32DestinationPrefix } from './observe.ts';
import {
  desiredTree,
  diffPlan,
  EMPTY_OBSERVED,
  ForeignQdiscError,
  formatCommand,
  ipv4Prefix,
  leafLimit,
  leafSpec,
  type ObservedTree,
  type PeerNode,
  summarize,
  tcPercent,
  tcRate,
  tcTime,
  teardownPlan,
} from './plan.ts';

// Classes and netem leaves for each preset and node site (with the three peers above). Reviewed by hand
// against services/topology/presets.ts: delays add, jitters add in variance, losses compound, the narrowest
// rate wins.
const EXPECTED: Record<string, Record<string, string[]>> = {
  '5g-mec': {
    ue: [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 80mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 6ms 2ms distribution normal loss random 0.1% rate 80mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 15ms 2236us distribution normal loss random 0.10999% rate 80mbit',
    ],
    edge: [
      'tc class replace dev eth0 parent ec: classid ec:12 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec: classid ec:13 htb rate 10gbit ceil 10gbit quantum 60000',
      'tc class replace dev eth0 parent ec:12 classid ec:1 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:13 classid ec:3 htb rate 10gbit ceil 10gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1067 delay 6ms 2ms distribution normal loss random 0.1% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 16667 delay 9ms 1ms distribution normal loss random 0.01% rate 10gbit',
    ],
    cloud: [
      'tc class replace dev eth0 parent ec: classid ec:14 htb rate 10gbit ceil 10gbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:1 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:2 htb rate 5gbit ceil 10gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 2299 delay 15ms 2236us distribution normal loss random 0.10999% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 16667 delay 9ms 1ms distribution normal loss random 0.01% rate 10gbit',
    ],
  },
  '5g-wavelength': {
    ue: [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 80mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 14ms 1ms distribution normal loss random 0.1% rate 80mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 33ms 1414us distribution normal loss random 0.1% rate 80mbit',
    ],
    edge: [
      'tc class replace dev eth0 parent ec: classid ec:12 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec: classid ec:13 htb rate 10gbit ceil 10gbit quantum 60000',
      'tc class replace dev eth0 parent ec:12 classid ec:1 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:13 classid ec:3 htb rate 10gbit ceil 10gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 2000 delay 14ms 1ms distribution normal loss random 0.1% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 33334 delay 19ms 1ms distribution normal rate 10gbit',
    ],
    cloud: [
      'tc class replace dev eth0 parent ec: classid ec:14 htb rate 10gbit ceil 10gbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:1 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:2 htb rate 5gbit ceil 10gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 4589 delay 33ms 1414us distribution normal loss random 0.1% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 33334 delay 19ms 1ms distribution normal rate 10gbit',
    ],
  },
  '4g-lte': {
    ue: [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 40mbit ceil 40mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 20mbit ceil 40mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 20mbit ceil 40mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 14ms 3ms distribution normal loss random 0.3% rate 40mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 23ms 3162us distribution normal loss random 0.30997% rate 40mbit',
    ],
    edge: [
      'tc class replace dev eth0 parent ec: classid ec:12 htb rate 150mbit ceil 150mbit quantum 60000',
      'tc class replace dev eth0 parent ec: classid ec:13 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc class replace dev eth0 parent ec:12 classid ec:1 htb rate 150mbit ceil 150mbit quantum 60000',
      'tc class replace dev eth0 parent ec:13 classid ec:3 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1000 delay 14ms 3ms distribution normal loss random 0.3% rate 150mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1667 delay 9ms 1ms distribution normal loss random 0.01% rate 1gbit',
    ],
    cloud: [
      'tc class replace dev eth0 parent ec: classid ec:14 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:1 htb rate 150mbit ceil 150mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:2 htb rate 500mbit ceil 1gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1000 delay 23ms 3162us distribution normal loss random 0.30997% rate 150mbit',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1667 delay 9ms 1ms distribution normal loss random 0.01% rate 1gbit',
    ],
  },
  'congested-backhaul': {
    ue: [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 80mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 40mbit ceil 50mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 6ms 2ms distribution normal loss random 0.1% rate 80mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 36ms 15133us distribution normal loss random 1.099% rate 50mbit',
    ],
    edge: [
      'tc class replace dev eth0 parent ec: classid ec:12 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec: classid ec:13 htb rate 50mbit ceil 50mbit quantum 60000',
      'tc class replace dev eth0 parent ec:12 classid ec:1 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:13 classid ec:3 htb rate 50mbit ceil 50mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1067 delay 6ms 2ms distribution normal loss random 0.1% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 30ms 15ms distribution paretonormal loss random 1% rate 50mbit',
    ],
    cloud: [
      'tc class replace dev eth0 parent ec: classid ec:14 htb rate 50mbit ceil 50mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:1 htb rate 25mbit ceil 50mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:2 htb rate 25mbit ceil 50mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1000 delay 36ms 15133us distribution normal loss random 1.099% rate 50mbit',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 30ms 15ms distribution paretonormal loss random 1% rate 50mbit',
    ],
  },
  'far-cloud': {
    ue: [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 80mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 6ms 2ms distribution normal loss random 0.1% rate 80mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 71ms 2828us distribution normal loss random 0.1999% rate 80mbit',
    ],
    edge: [
      'tc class replace dev eth0 parent ec: classid ec:12 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec: classid ec:13 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc class replace dev eth0 parent ec:12 classid ec:1 htb rate 800mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:13 classid ec:3 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1067 delay 6ms 2ms distribution normal loss random 0.1% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 11167 delay 65ms 2ms distribution normal loss random 0.1% rate 1gbit',
    ],
    cloud: [
      'tc class replace dev eth0 parent ec: classid ec:14 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:1 htb rate 500mbit ceil 800mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:2 htb rate 500mbit ceil 1gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 9844 delay 71ms 2828us distribution normal loss random 0.1999% rate 800mbit',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 11167 delay 65ms 2ms distribution normal loss random 0.1% rate 1gbit',
    ],
  },
  'wifi-lan-edge': {
    ue: [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 400mbit ceil 400mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 200mbit ceil 400mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 200mbit ceil 400mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 1400us 500us distribution normal loss random 0.05% rate 400mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 11400us 1118us distribution normal loss random 0.059995% rate 400mbit',
    ],
    edge: [
      'tc class replace dev eth0 parent ec: classid ec:12 htb rate 400mbit ceil 400mbit quantum 60000',
      'tc class replace dev eth0 parent ec: classid ec:13 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc class replace dev eth0 parent ec:12 classid ec:1 htb rate 400mbit ceil 400mbit quantum 60000',
      'tc class replace dev eth0 parent ec:13 classid ec:3 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1000 delay 1400us 500us distribution normal loss random 0.05% rate 400mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1834 delay 10ms 1ms distribution normal loss random 0.01% rate 1gbit',
    ],
    cloud: [
      'tc class replace dev eth0 parent ec: classid ec:14 htb rate 1gbit ceil 1gbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:1 htb rate 400mbit ceil 400mbit quantum 60000',
      'tc class replace dev eth0 parent ec:14 classid ec:2 htb rate 500mbit ceil 1gbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:1 handle 101: netem limit 1000 delay 11400us 1118us distribution normal loss random 0.059995% rate 400mbit',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1834 delay 10ms 1ms distribution normal loss random 0.01% rate 1gbit',
    ],
  },
};

const PEERS: PeerNode[] = [
  { name: 'mec-ue', site: 'ue', address: '172.18.0.3', podCIDRs: ['10.244.1.0/24'] },
  { name: 'mec-edge', site: 'edge', address: '172.18.0.4', podCIDRs: ['10.244.2.0/24'] },
  { name: 'mec-cloud', site: 'cloud', address: '172.18.0.5', podCIDRs: ['10.244.3.0/24'] },
];
const topo = (name = '5g-mec') => topologyFrom(PRESETS[name], name);
const plan = (site: string, peers = PEERS, name = '5g-mec', leaf: 'netem' | 'pfifo' = 'netem') =>
  desiredTree({
    topology: topo(name),
    site,
    peers: peers.filter((p) => p.site !== site),
    device: 'eth0',
    leaf,
  });
const commands = (site: string, peers = PEERS, name = '5g-mec') =>
  diffPlan(plan(site, peers, name).tree, EMPTY_OBSERVED).map(formatCommand);

/** What tc would show once a tree is applied (leaf options as pfifo/netem print their limit). */
function applied(
  site: string,
  peers = PEERS,
  name = '5g-mec',
  leaf: 'netem' | 'pfifo' = 'netem',
): ObservedTree {
  const { tree } = plan(site, peers, name, leaf);
  let handle = 0x800;
  return {
    root: { kind: 'htb', handle: 'ec:' },
    classes: new Map([
      ...tree.links.map(
        (l) => [l.classid, { parent: 'ec:', rateBits: l.rateBits, ceilBits: l.rateBits }] as const,
      ),
      ...tree.classes.map(
        (c) => [c.classid, { parent: c.parent, rateBits: c.rateBits, ceilBits: c.ceilBits }] as const,
      ),
    ]),
    leaves: new Map(
      tree.classes.map((c) => [
        c.classid,
        { kind: c.leaf.kind, handle: c.leaf.handle, options: { limit: Number(c.leaf.args[1]) } },
      ]),
    ),
    filters: tree.classes.flatMap((c) =>
      c.matches.map((match) => ({
        prio: c.prio,
        handle: `${c.prio + 0x7ff}::${(handle++).toString(16)}`,
        flowid: c.classid,
        match,
      })),
    ),
  };
}
const fingerprints = (site: string, peers = PEERS, name = '5g-mec') =>
  new Map(plan(site, peers, name).tree.classes.map((c) => [c.classid, leafSpec(c)]));

describe('tc plan: the exact commands', () => {
  it('5g-mec, ue node: root, the uplink class, a class and a netem leaf per other site, filters', () => {
    assert.deepEqual(commands('ue'), [
      'tc qdisc replace dev eth0 root handle ec: htb',
      // Both paths leave through the ue-edge uplink (80 Mbit/s): they share it, half guaranteed to each.
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 80mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 40mbit ceil 80mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 6ms 2ms distribution normal loss random 0.1% rate 80mbit',
      // ue -> cloud: kind routes it directly, so the class carries ue-edge + edge-cloud: 6+9 ms, sqrt(2²+1²) ms,
      // 1-(1-0.1%)(1-0.01%), min(80Mbit, 10Gbit).
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 15ms 2236us distribution normal loss random 0.10999% rate 80mbit',
      'tc filter add dev eth0 parent ec: protocol ip prio 2 u32 match ip dst 10.244.2.0/24 flowid ec:2',
      'tc filter add dev eth0 parent ec: protocol ip prio 2 u32 match ip dst 172.18.0.4/32 flowid ec:2',
      'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 10.244.3.0/24 flowid ec:3',
      'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 172.18.0.5/32 flowid ec:3',
    ]);
  });

  for (const [preset, sites] of Object.entries(EXPECTED)) {
    for (const [site, expected] of Object.entries(sites)) {
      it(`${preset}, ${site} node: classes and netem leaves`, () => {
        const all = commands(site, PEERS, preset);
        assert.deepEqual(
          all.filter((l) => l.includes('netem') || l.includes('class replace')),
          expected,
        );
        assert.equal(all[0], 'tc qdisc replace dev eth0 root handle ec: htb');
        assert.equal(
          all.filter((l) => l.startsWith('tc filter add')).length,
          4,
          'node IP + pod CIDR of 2 sites',
        );
      });
    }
  }

  it('every class carries the model path impairment, numbers taken from the topology', () => {
    for (const name of Object.keys(PRESETS)) {
      for (const site of ['ue', 'edge', 'cloud']) {
        for (const c of plan(site, PEERS, name).tree.classes) {
          const i = pathImpairment(topo(name), site, c.to);
          assert.deepEqual(c.impairment, i);
          assert.ok(c.leaf.args.join(' ').includes(`delay ${tcTime(i.latencySeconds)}`));
        }
      }
    }
    assert.equal(plan('ue').tree.classes.find((c) => c.to === 'cloud')?.link, 'ue-edge+edge-cloud');
  });
});

describe('tc plan: edge cases', () => {
  it('no peers: the tree is built (gauges show the profile), no filters', () => {
    const { tree, warnings } = plan('edge', []);
    assert.deepEqual(warnings, []);
    const cmds = diffPlan(tree, EMPTY_OBSERVED).map(formatCommand);
    assert.equal(cmds.length, 7, 'root, 2 link classes, 2 site classes, 2 leaves');
    assert.ok(!cmds.some((c) => c.includes('filter')));
  });

  it('a peer without a pod CIDR is matched by its node IP, with a warning', () => {
    const peers = [{ name: 'new', site: 'cloud', address: '172.18.0.9', podCIDRs: [] }];
    const { tree, warnings } = plan('ue', peers);
    assert.deepEqual(tree.classes.find((c) => c.to === 'cloud')?.matches, ['172.18.0.9/32']);
    assert.match(warnings[0]?.message ?? '', /no pod CIDR yet/);
  });

  it('IPv6 CIDRs, unknown sites and same-site peers are not matched', () => {
    const peers = [
      { name: 'v6', site: 'cloud', address: 'fc00::9', podCIDRs: ['10.244.9.0/24', 'fd00:10:244::/64'] },
      { name: 'mars', site: 'mars', address: '172.18.0.10', podCIDRs: ['10.244.10.0/24'] },
      { name: 'ue-2', site: 'ue', address: '172.18.0.11', podCIDRs: ['10.244.11.0/24'] },
    ];
    const { tree, warnings } = plan('ue', peers);
    assert.deepEqual(tree.classes.find((c) => c.to === 'cloud')?.matches, ['10.244.9.0/24']);
    assert.equal(tree.classes.flatMap((c) => c.matches).length, 1);
    assert.deepEqual(
      warnings.map((w) => w.node),
      ['mars', 'v6', 'v6'],
    );
  });

  it('the control-plane node is never a peer, even when labelled with a site', () => {
    const node = (name: string, labels: Record<string, string>, ip: string, cidr: string): V1Node => ({
      metadata: { name, labels },
      spec: { podCIDR: cidr, podCIDRs: [cidr] },
      status: {
        addresses: [
          { type: 'InternalIP', address: ip },
          { type: 'Hostname', address: name },
        ],
      },
    });
    const views = [
      node(
        'cp',
        { 'mec-testbed.dev/site': 'cloud', 'node-role.kubernetes.io/control-plane': '' },
        '172.18.0.2',
        '10.244.0.0/24',
      ),
      node('w1', { 'mec-testbed.dev/site': 'ue' }, '172.18.0.3', '10.244.1.0/24'),
      node('w2', { 'mec-testbed.dev/site': 'cloud' }, '172.18.0.5', '10.244.3.0/24'),
      node('unlabelled', {}, '172.18.0.6', '10.244.6.0/24'),
    ]
      .map(nodeView)
      .filter((v) => v !== undefined);
    assert.equal(views.length, 3);
    assert.deepEqual(
      peersOf('w1', views).map((p) => p.name),
      ['w2'],
    );
    assert.deepEqual(peersOf('w1', views)[0], {
      name: 'w2',
      site: 'cloud',
      address: '172.18.0.5',
      podCIDRs: ['10.244.3.0/24'],
    });
  });

  it('refuses a node whose own site the profile does not declare', () => {
    assert.throws(() => plan('mars'), /site "mars" is not declared by profile "5g-mec"/);
  });

  it('netem unavailable: the same tree with pfifo leaves (for checking the shape with the real tc)', () => {
    const cmds = diffPlan(plan('ue', PEERS, '5g-mec', 'pfifo').tree, EMPTY_OBSERVED).map(formatCommand);
    assert.ok(cmds.includes('tc qdisc replace dev eth0 parent ec:2 handle 102: pfifo limit 1000'));
    assert.ok(!cmds.some((c) => c.includes('netem')));
  });
});

describe('tc plan: idempotence and changes', () => {
  it('nothing to do when the device already has the tree this process applied', () => {
    for (const site of ['ue', 'edge', 'cloud']) {
      assert.deepEqual(diffPlan(plan(site).tree, applied(site), fingerprints(site)), []);
    }
  });

  it('after a restart (no fingerprints) netem leaves are re-applied once, nothing else', () => {
    const cmds = diffPlan(plan('ue').tree, applied('ue')).map(formatCommand);
    assert.equal(cmds.length, 2);
    assert.ok(cmds.every((c) => c.startsWith('tc qdisc replace dev eth0 parent ec:')));
  });

  it('pfifo leaves compare by what tc reads back', () => {
    assert.deepEqual(
      diffPlan(plan('ue', PEERS, '5g-mec', 'pfifo').tree, applied('ue', PEERS, '5g-mec', 'pfifo')),
      [],
    );
  });

  it('a profile change re-applies the full netem spec and the class rates, keeps the filters', () => {
    const cmds = diffPlan(plan('ue', PEERS, '4g-lte').tree, applied('ue'), fingerprints('ue')).map(
      formatCommand,
    );
    assert.deepEqual(cmds, [
      'tc class replace dev eth0 parent ec: classid ec:11 htb rate 40mbit ceil 40mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:2 htb rate 20mbit ceil 40mbit quantum 60000',
      'tc class replace dev eth0 parent ec:11 classid ec:3 htb rate 20mbit ceil 40mbit quantum 60000',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 14ms 3ms distribution normal loss random 0.3% rate 40mbit',
      'tc qdisc replace dev eth0 parent ec:3 handle 103: netem limit 1000 delay 23ms 3162us distribution normal loss random 0.30997% rate 40mbit',
    ]);
  });

  it('a node joining adds only its filters; a node leaving deletes only its filters, by handle', () => {
    const joined = [
      ...PEERS,
      { name: 'mec-cloud-2', site: 'cloud', address: '172.18.0.6', podCIDRs: ['10.244.4.0/24'] },
    ];
    assert.deepEqual(
      diffPlan(plan('ue', joined).tree, applied('ue'), fingerprints('ue')).map(formatCommand),
      [
        'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 10.244.4.0/24 flowid ec:3',
        'tc filter add dev eth0 parent ec: protocol ip prio 3 u32 match ip dst 172.18.0.6/32 flowid ec:3',
      ],
    );
    const before = applied('ue', joined);
    const left = diffPlan(plan('ue').tree, before, fingerprints('ue')).map(formatCommand);
    const gone = before.filters.filter((f) => f.match === '172.18.0.6/32' || f.match === '10.244.4.0/24');
    assert.deepEqual(
      left,
      gone.map((f) => `tc filter del dev eth0 parent ec: protocol ip prio 3 handle ${f.handle} u32`),
    );
  });

  it('a leaf of another kind is deleted before the new one is added (replace cannot change the kind)', () => {
    const cmds = diffPlan(plan('ue').tree, applied('ue', PEERS, '5g-mec', 'pfifo')).map(formatCommand);
    assert.deepEqual(cmds.slice(0, 2), [
      'tc qdisc del dev eth0 parent ec:2',
      'tc qdisc replace dev eth0 parent ec:2 handle 102: netem limit 1000 delay 6ms 2ms distribution normal loss random 0.1% rate 80mbit',
    ]);
  });

  it('a class no longer wanted goes after the filters that point at it', () => {
    const observed = applied('ue');
    observed.classes.set('ec:9', { parent: 'ec:', rateBits: 1e6 });
    observed.filters.push({ prio: 9, handle: '808::800', flowid: 'ec:9', match: '10.9.9.0/24' });
    const cmds = diffPlan(plan('ue').tree, observed, fingerprints('ue')).map(formatCommand);
    assert.deepEqual(cmds, [
      'tc filter del dev eth0 parent ec: protocol ip prio 9 handle 808::800 u32',
      'tc class del dev eth0 classid ec:9',
    ]);
  });

  it('a class under another parent (an older or differently shaped tree) makes a rebuild', () => {
    const observed = applied('ue');
    observed.classes.set('ec:2', { parent: 'ec:', rateBits: 80e6, ceilBits: 80e6 });
    const cmds = diffPlan(plan('ue').tree, observed, fingerprints('ue')).map(formatCommand);
    assert.equal(cmds[0], 'tc qdisc del dev eth0 root');
    assert.deepEqual(cmds.slice(1), commands('ue'));
  });

  it('a link class no longer used goes after its children', () => {
    const observed = applied('ue');
    observed.classes.set('ec:19', { parent: 'ec:', rateBits: 1e6 });
    observed.classes.set('ec:9', { parent: 'ec:19', rateBits: 1e6 });
    assert.deepEqual(diffPlan(plan('ue').tree, observed, fingerprints('ue')).map(formatCommand), [
      'tc class del dev eth0 classid ec:9',
      'tc class del dev eth0 classid ec:19',
    ]);
  });

  it('paths leaving through the same link share its capacity; a guaranteed share never exceeds the path rate', () => {
    const { tree } = plan('cloud');
    assert.deepEqual(
      tree.links.map((l) => `${l.classid} ${l.link} ${l.rateBits}`),
      ['ec:14 edge-cloud 10000000000'],
    );
    assert.deepEqual(
      tree.classes.map((c) => `${c.to} ${c.parent} ${c.rateBits} ${c.ceilBits}`),
      ['ue ec:14 800000000 800000000', 'edge ec:14 5000000000 10000000000'],
    );
  });

  it('duplicated filters are trimmed to one', () => {
    const observed = applied('ue');
    const first = observed.filters[0];
    assert.ok(first);
    observed.filters.push({ ...first, handle: '801::8ff' });
    assert.deepEqual(diffPlan(plan('ue').tree, observed, fingerprints('ue')).map(formatCommand), [
      `tc filter del dev eth0 parent ec: protocol ip prio ${first.prio} handle 801::8ff u32`,
    ]);
  });

  it('never touches a root qdisc it did not create, replaces only a kernel default', () => {
    const foreign: ObservedTree = { ...EMPTY_OBSERVED, root: { kind: 'htb', handle: '1:' } };
    assert.throws(() => diffPlan(plan('ue').tree, foreign), ForeignQdiscError);
    assert.throws(
      () => diffPlan(plan('ue').tree, { ...EMPTY_OBSERVED, root: { kind: 'tbf', handle: '8001:' } }),
      /did not create/,
    );
    for (const kind of ['noqueue', 'fq_codel', 'mq', 'pfifo_fast']) {
      const cmds = diffPlan(plan('ue').tree, { ...EMPTY_OBSERVED, root: { kind, handle: '0:' } });
      assert.equal(formatCommand(cmds[0] ?? []), 'tc qdisc replace dev eth0 root handle ec: htb');
    }
  });

  it('teardown removes only its own root', () => {
    assert.deepEqual(teardownPlan('eth0', applied('ue')).map(formatCommand), ['tc qdisc del dev eth0 root']);
    assert.deepEqual(teardownPlan('eth0', EMPTY_OBSERVED), []);
    assert.deepEqual(teardownPlan('eth0', { ...EMPTY_OBSERVED, root: { kind: 'htb', handle: '1:' } }), []);
  });

  it('summarises the plan in one line per class', () => {
    assert.deepEqual(summarize(plan('ue').tree), [
      'ue->edge (ue-edge) class ec:2: netem limit 1000 delay 6ms 2ms distribution normal loss random 0.1% rate 80mbit; 2 prefixes: 10.244.2.0/24, 172.18.0.4/32',
      'ue->cloud (ue-edge+edge-cloud) class ec:3: netem limit 1000 delay 15ms 2236us distribution normal loss random 0.10999% rate 80mbit; 2 prefixes: 10.244.3.0/24, 172.18.0.5/32',
    ]);
  });
});

describe('tc spelling and read-back', () => {
  it('formats times, rates and percentages exactly', () => {
    assert.deepEqual([tcTime(0.006), tcTime(0.0014), tcTime(0.002236068)], ['6ms', '1400us', '2236us']);
    assert.deepEqual(
      [tcRate(80e6), tcRate(10e9), tcRate(64e3), tcRate(1234)],
      ['80mbit', '10gbit', '64kbit', '1234bit'],
    );
    assert.deepEqual([tcPercent(0.001), tcPercent(1 - 0.999 * 0.9999)], ['0.1%', '0.10999%']);
    assert.deepEqual(
      [ipv4Prefix('10.244.1.7/24'), ipv4Prefix('300.1.1.1/8'), ipv4Prefix('fd00::/64')],
      ['10.244.1.0/24', undefined, undefined],
    );
  });

  it('sizes netem limit from rate and delay, within bounds', () => {
    const i = {
      latencySeconds: 0.009,
      jitterSeconds: 0.001,
      distribution: 'normal' as const,
      loss: 0,
      rateBitsPerSecond: 10e9,
    };
    assert.equal(leafLimit(i), 16667); // 833,333 packets/s × 10 ms × 2
    assert.equal(leafLimit({ ...i, rateBitsPerSecond: 1e6 }), 1000);
    assert.equal(leafLimit({ ...i, latencySeconds: 5 }), 100000);
  });

  it('parses what tc 6.1 prints for the tree (captured from a namespace on this machine)', () => {
    const qdisc =
      '[{"kind":"htb","handle":"ec:","root":true,"refcnt":3,"options":{"r2q":10,"default":"0","direct_packets_stat":0,"direct_qlen":1000}},{"kind":"pfifo","handle":"102:","parent":"ec:2","options":{"limit":1000}}]';
    const classes =
      'class htb ec:11 root rate 80Mbit ceil 80Mbit burst 1600b cburst 1600b \nclass htb ec:2 parent ec:11 leaf 102: prio 0 rate 40Mbit ceil 80Mbit burst 1600b cburst 1600b \nclass htb ec:3 root prio 0 rate 10Gbit ceil 10Gbit burst 0b cburst 0b \n';
    const filters =
      '[{"parent":"ec:","protocol":"ip","pref":2,"kind":"u32","chain":0},{"parent":"ec:","protocol":"ip","pref":2,"kind":"u32","chain":0,"options":{"fh":"800:","ht_divisor":1}},{"parent":"ec:","protocol":"ip","pref":2,"kind":"u32","chain":0,"options":{"fh":"800::800","order":2048,"key_ht":"800","bkt":"0","flowid":"ec:2","not_in_hw":true,"match":{"value":"af40100","mask":"ffffff00","offmask":"","off":16}}}]';
    const o = parseObserved(qdisc, classes, filters);
    assert.deepEqual(o.root, { kind: 'htb', handle: 'ec:' });
    assert.deepEqual(o.leaves.get('ec:2'), { kind: 'pfifo', handle: '102:', options: { limit: 1000 } });
    assert.deepEqual(o.classes.get('ec:3'), {
      classid: 'ec:3',
      parent: 'ec:',
      rateBits: 10e9,
      ceilBits: 10e9,
    });
    assert.deepEqual(o.classes.get('ec:2'), {
      classid: 'ec:2',
      parent: 'ec:11',
      rateBits: 40e6,
      ceilBits: 80e6,
    });
    assert.deepEqual(o.filters, [{ prio: 2, handle: '800::800', flowid: 'ec:2', match: '10.244.1.0/24' }]);
    assert.equal(parseTcRate('2.5Gbit'), 2.5e9);
    assert.equal(u32DestinationPrefix({ value: 'ac120003', mask: 'ffffffff', off: 16 }), '172.18.0.3/32');
    assert.equal(u32DestinationPrefix({ value: 'ac120003', mask: 'ffffffff', off: 12 }), undefined);
    assert.equal(parseObserved('[{"kind":"noqueue","handle":"0:","root":true}]', '', '').filters.length, 0);
  });
});
