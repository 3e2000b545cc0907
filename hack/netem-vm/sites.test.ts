import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeView, peersOf } from '../../services/link-agent/nodes.ts';
import { ipv4Prefix } from '../../services/link-agent/plan.ts';
import { clusterLayout, nodeObjects, wiringCommands, wiringScript } from './sites.ts';

const nodes = clusterLayout(['ue', 'edge', 'cloud']);

function inPrefix(address: string, prefix: string): boolean {
  const [net, len] = prefix.split('/');
  return ipv4Prefix(`${address}/${len}`) === `${net}/${len}`;
}

describe('the VM cluster layout', () => {
  it("is kind's: a control plane without a site, then one worker per site", () => {
    assert.deepEqual(
      nodes.map((n) => [n.name, n.site, n.address, n.podCIDR]),
      [
        ['netem-vm-control-plane', undefined, '172.18.0.2', '10.244.0.0/24'],
        ['netem-vm-worker', 'ue', '172.18.0.3', '10.244.1.0/24'],
        ['netem-vm-worker2', 'edge', '172.18.0.4', '10.244.2.0/24'],
        ['netem-vm-worker3', 'cloud', '172.18.0.5', '10.244.3.0/24'],
      ],
    );
  });

  it('the Node objects give the agents what a kind cluster gives them; the control plane is no peer', () => {
    const views = nodeObjects(nodes).map((n) => nodeView(n));
    assert.equal(views[0], undefined, 'no site label on the control plane');
    const peers = peersOf(
      'netem-vm-worker',
      views.flatMap((v) => v ?? []),
    );
    assert.deepEqual(
      peers.map((p) => [p.site, p.address, p.podCIDRs]),
      [
        ['edge', '172.18.0.4', ['10.244.2.0/24']],
        ['cloud', '172.18.0.5', ['10.244.3.0/24']],
      ],
    );
  });

  it('the unlisted addresses fall in no listed prefix, so no agent matches them', () => {
    const listed = nodes.flatMap((n) => [`${n.address}/32`, n.podCIDR]);
    for (const n of nodes)
      for (const address of [n.unlistedAddress, n.unlistedPodAddress])
        assert.ok(!listed.some((p) => inPrefix(address, p)), `${address} is unlisted`);
    for (const n of nodes) assert.ok(inPrefix(n.podAddress, n.podCIDR));
  });

  it('routes every pod range via its node and batches the ip commands per namespace, VM first', () => {
    const commands = wiringCommands(nodes);
    const routes = commands
      .filter((c) => c.netns === 'netem-vm-worker' && c.argv.includes('via'))
      .map((c) => c.argv.slice(3).join(' '));
    assert.ok(routes.includes('10.244.2.0/24 via 172.18.0.4'));
    assert.ok(routes.includes('10.245.3.0/24 via 172.18.0.5'));
    const script = wiringScript(commands);
    assert.match(script, /^set -e\n\/sbin\/ip -batch - <<'EOF'\nlink add kind type bridge/);
    assert.equal(script.match(/-batch/g)?.length, 1 + 2 * nodes.length);
    assert.match(script, /\/sbin\/ip netns exec netem-vm-worker \/bin\/sysctl -qw net.ipv4.ip_forward=1/);
  });
});
