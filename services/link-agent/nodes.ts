// From Kubernetes Node objects to the plan's peers. Pure. Which nodes are left alone, and why:
// - nodes without the site label, and control-plane nodes even when labelled: API and kubelet traffic must not
//   be delayed (a workload that should pay a link's delay must not run on the control plane);
// - IPv6 addresses and pod CIDRs (the u32 filters are IPv4; the plan warns about them).
import type { V1Node } from '@kubernetes/client-node';
import { type PeerNode, SITE_LABEL } from './plan.ts';

export const CONTROL_PLANE_LABEL = 'node-role.kubernetes.io/control-plane';

export interface NodeView extends PeerNode {
  controlPlane: boolean;
  uid?: string;
}

/** The node as the agent sees it; undefined when it carries no site label. */
export function nodeView(node: V1Node): NodeView | undefined {
  const labels = node.metadata?.labels ?? {};
  const site = labels[SITE_LABEL];
  const name = node.metadata?.name;
  if (!site || !name) return undefined;
  const address = node.status?.addresses?.find(
    (a) => a.type === 'InternalIP' && a.address.includes('.'),
  )?.address;
  const cidrs = node.spec?.podCIDRs?.length
    ? node.spec.podCIDRs
    : node.spec?.podCIDR
      ? [node.spec.podCIDR]
      : [];
  return {
    name,
    site,
    ...(address ? { address } : {}),
    podCIDRs: cidrs.filter((c) => c.includes('.')),
    controlPlane: CONTROL_PLANE_LABEL in labels,
    ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}),
  };
}

/** The peers a node shapes traffic towards: every other labelled node except control-plane nodes. */
export function peersOf(self: string, nodes: Iterable<NodeView>): PeerNode[] {
  const peers: PeerNode[] = [];
  for (const n of nodes) {
    if (n.name === self || n.controlPlane) continue;
    peers.push({
      name: n.name,
      site: n.site,
      ...(n.address ? { address: n.address } : {}),
      podCIDRs: n.podCIDRs,
    });
  }
  return peers;
}
