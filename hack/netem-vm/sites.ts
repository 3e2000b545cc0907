// The cluster inside the netem VM, wired as kind wires its nodes: every node is a network namespace with an
// `eth0` on one bridge (the kind network, 172.18.0.0/16; the VM's own namespace is the gateway .1), a pod CIDR
// per node routed via that node's IP (kindnetd's routes), and one pod namespace per node behind a veth, as
// the ptp CNI plugin does it. A control-plane node has no site and no agent. Pure: the commands are run by
// testbed.ts, the Node objects are created in the API server from the same layout.
//
// Besides the addresses the Node objects list, each node has an unlisted one (172.18.1.x on eth0) and each pod
// one too (10.245.x.2), routed the same way. The agents know nothing of them: a ping from an unlisted address
// pays the delay on the way out (the source's egress matches the destination) and none on the way back (the
// destination's egress matches nothing), which is how one site's egress is measured on its own.
import type { V1Node } from '@kubernetes/client-node';
import { SITE_LABEL } from '../../services/link-agent/plan.ts';

export const BRIDGE = 'kind';
export const GATEWAY = '172.18.0.1';
/** An address outside every site (a stand-in for the internet): on the gateway, reached by the default route. */
export const OUTSIDE = '203.0.113.1';
/** Where the control-plane node serves the API (a relay to the host's kube-apiserver). */
export const API_PORT = 6443;

export interface VmNode {
  /** Node name and network namespace name. */
  name: string;
  site?: string;
  controlPlane: boolean;
  /** The InternalIP the Node object lists. */
  address: string;
  /** An address on the same eth0 the agents do not know. */
  unlistedAddress: string;
  podCIDR: string;
  /** The pod namespace and its address in the pod CIDR. */
  pod: string;
  podAddress: string;
  /** A pod address outside every listed pod CIDR (10.245.x.2), routed like the pod CIDR. */
  unlistedPodAddress: string;
  unlistedPodCIDR: string;
  /** The root namespace's end of the node's veth. */
  veth: string;
}

/** kind's layout for a cluster called `cluster`: the control plane first, then one worker per site. */
export function clusterLayout(sites: readonly string[], cluster = 'netem-vm'): VmNode[] {
  const nodes: VmNode[] = [];
  const names = ['control-plane', ...sites.map((_, i) => (i === 0 ? 'worker' : `worker${i + 1}`))];
  names.forEach((suffix, i) => {
    const host = i + 2;
    const name = `${cluster}-${suffix}`;
    const site = i === 0 ? undefined : sites[i - 1];
    nodes.push({
      name,
      ...(site ? { site } : {}),
      controlPlane: i === 0,
      address: `172.18.0.${host}`,
      unlistedAddress: `172.18.1.${host}`,
      podCIDR: `10.244.${i}.0/24`,
      pod: `${name}-pod`,
      podAddress: `10.244.${i}.2`,
      unlistedPodAddress: `10.245.${i}.2`,
      unlistedPodCIDR: `10.245.${i}.0/24`,
      veth: `vnode${i}`,
    });
  });
  return nodes;
}

/** One program run in the VM: in the VM's own namespace, or in `netns`. */
export interface GuestCommand {
  netns?: string;
  argv: string[];
}

const ip = (netns: string | undefined, ...args: string[]): GuestCommand => ({
  ...(netns ? { netns } : {}),
  argv: ['/sbin/ip', ...args],
});

/**
 * The commands as one shell script that runs each namespace's `ip` commands as one `ip -n NS -batch` (a process
 * costs 0.1-0.5 s under TCG; there are ~150 commands), keeping their order within each namespace and running
 * the namespaces in the order they first appear (the VM's own first: it creates the others).
 */
export function wiringScript(commands: readonly GuestCommand[]): string {
  const quote = (a: string) => (/^[\w./:=@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const batches = new Map<string, string[]>();
  const others: string[] = [];
  for (const c of commands) {
    const [program, ...args] = c.argv;
    if (program === '/sbin/ip') {
      const key = c.netns ?? '';
      batches.set(key, [...(batches.get(key) ?? []), args.map(quote).join(' ')]);
    } else others.push(['/sbin/ip', 'netns', 'exec', c.netns ?? '', ...c.argv].map(quote).join(' '));
  }
  const lines = [...batches].map(
    ([netns, batch]) =>
      `/sbin/ip ${netns ? `-n ${quote(netns)} ` : ''}-batch - <<'EOF'\n${batch.join('\n')}\nEOF`,
  );
  return `set -e\n${[...lines, ...others].join('\n')}\n`;
}

/** The commands that build the cluster's network, in order. */
export function wiringCommands(nodes: readonly VmNode[]): GuestCommand[] {
  const commands: GuestCommand[] = [
    ip(undefined, 'link', 'add', BRIDGE, 'type', 'bridge'),
    ip(undefined, 'addr', 'add', `${GATEWAY}/16`, 'dev', BRIDGE),
    ip(undefined, 'addr', 'add', `${OUTSIDE}/32`, 'dev', BRIDGE),
    ip(undefined, 'link', 'set', BRIDGE, 'up'),
  ];
  for (const n of nodes) {
    const gw = n.podCIDR.replace(/\.0\/24$/, '.1');
    commands.push(
      ip(undefined, 'netns', 'add', n.name),
      ip(undefined, 'link', 'add', n.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.name),
      ip(undefined, 'link', 'set', n.veth, 'master', BRIDGE, 'up'),
      ip(n.name, 'link', 'set', 'lo', 'up'),
      ip(n.name, 'addr', 'add', `${n.address}/16`, 'dev', 'eth0'),
      ip(n.name, 'addr', 'add', `${n.unlistedAddress}/16`, 'dev', 'eth0'),
      ip(n.name, 'link', 'set', 'eth0', 'up'),
      ip(n.name, 'route', 'add', 'default', 'via', GATEWAY),
      { netns: n.name, argv: ['/bin/sysctl', '-qw', 'net.ipv4.ip_forward=1'] },
      // The pod: a veth to the node, the node's end holding the pod CIDR's .1 (ptp plugin).
      ip(undefined, 'netns', 'add', n.pod),
      ip(n.name, 'link', 'add', 'vpod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.pod),
      ip(n.name, 'addr', 'add', `${gw}/32`, 'dev', 'vpod'),
      ip(n.name, 'link', 'set', 'vpod', 'up'),
      ip(n.name, 'route', 'add', `${n.podAddress}/32`, 'dev', 'vpod'),
      ip(n.name, 'route', 'add', `${n.unlistedPodAddress}/32`, 'dev', 'vpod'),
      ip(n.pod, 'link', 'set', 'lo', 'up'),
      ip(n.pod, 'addr', 'add', `${n.podAddress}/32`, 'dev', 'eth0'),
      ip(n.pod, 'addr', 'add', `${n.unlistedPodAddress}/32`, 'dev', 'eth0'),
      ip(n.pod, 'link', 'set', 'eth0', 'up'),
      ip(n.pod, 'route', 'add', `${gw}/32`, 'dev', 'eth0'),
      ip(n.pod, 'route', 'add', 'default', 'via', gw),
    );
  }
  // kindnetd's routes: every other node's pod CIDR via that node's IP (and the unlisted pod range the same way).
  for (const n of nodes)
    for (const peer of nodes) {
      if (peer === n) continue;
      commands.push(
        ip(n.name, 'route', 'add', peer.podCIDR, 'via', peer.address),
        ip(n.name, 'route', 'add', peer.unlistedPodCIDR, 'via', peer.address),
      );
    }
  return commands;
}

/** The Node objects as a kind cluster shows them (no kubelet here, so only what the agents read). */
export function nodeObjects(nodes: readonly VmNode[]): V1Node[] {
  return nodes.map((n) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'kubernetes.io/hostname': n.name,
        ...(n.site ? { [SITE_LABEL]: n.site } : {}),
        ...(n.controlPlane ? { 'node-role.kubernetes.io/control-plane': '' } : {}),
      },
    },
    spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] },
    status: {
      addresses: [
        { type: 'InternalIP', address: n.address },
        { type: 'Hostname', address: n.name },
      ],
    },
  }));
}
