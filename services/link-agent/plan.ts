// The tc plan: which qdiscs, classes and filters one node needs so that its traffic towards every other site
// pays that path's delay, jitter, loss and rate, and the commands that take an interface from what it has to
// that. Pure: the runner (runner.ts) executes the commands and observe.ts reads the interface back.
//
// The tree, on the node's egress interface (the node container's eth0 on kind):
//
//   qdisc htb ec: root                      no default class: unmatched traffic (control plane, the node's
//   │                                       own site, anything not listed) bypasses the tree untouched
//   └── class htb ec:11 (link ue-edge)      rate = ceil = the first link's capacity, shared by every path
//       │                                   that leaves through it (ue→edge and ue→cloud share the uplink)
//       ├── class htb ec:2  (to edge)       rate = a fair share, ceil = the path's rate
//       │   └── qdisc netem 102:            delay/jitter/distribution/loss/rate of the path, limit sized
//       └── class htb ec:3  (to cloud)
//           └── qdisc netem 103:
//   filters (parent ec:, protocol ip, u32): one prio per destination site (prio = class minor), one filter per
//   peer node IP (/32) and pod CIDR of that site, flowid = the site's class.
//
// Egress only, on every node: each direction pays its own one-way delay exactly once. kind routes ue → cloud
// directly, so the ue node's class towards the cloud carries the whole path (ue-edge + edge-cloud), combined
// by the topology model. The root handle `ec:` marks what the agent owns: it replaces only a kernel-default
// root (handle 0:) or its own, and teardown deletes only its own root.
import {
  type Impairment,
  pathBetween,
  pathImpairment,
  type SiteName,
  type Topology,
} from '../topology/index.ts';

export const ROOT_MAJOR = 'ec';
export const ROOT_HANDLE = `${ROOT_MAJOR}:`;
/** The htb class rate when a path is not rate-limited: htb needs a rate; this does not bind on a kind veth. */
export const NOMINAL_LINE_RATE_BITS = 10e9;
/** Packet size used to turn a bit rate into packets per second when sizing netem's queue. */
export const SIZING_PACKET_BYTES = 1500;
export const MIN_LEAF_LIMIT = 1000;
export const MAX_LEAF_LIMIT = 100_000;
/** Explicit quantum keeps htb quiet about big quanta at Gbit rates (it only sets how siblings share a parent). */
export const HTB_QUANTUM = 60000;
export const SITE_LABEL = 'mec-testbed.dev/site';
/** Site classes are ec:1…ec:f, link classes from ec:11 up. */
export const MAX_SITES = 15;

/** Another node this node sends to. */
export interface PeerNode {
  name: string;
  site: SiteName;
  /** The node's InternalIP (IPv4). */
  address?: string;
  /** IPv4 pod CIDRs (kindnetd routes `<cidr> via <address>`). */
  podCIDRs: string[];
}

/** `netem` on a real node; `pfifo` where the kernel lacks netem, to check the tree's shape with the real tc. */
export type LeafKind = 'netem' | 'pfifo';

export interface PlanInput {
  topology: Topology;
  /** This node's site. */
  site: SiteName;
  peers: readonly PeerNode[];
  device: string;
  leaf?: LeafKind;
}

export interface DesiredClass {
  to: SiteName;
  /** `ue-edge` or, for a path of several links, `ue-edge+edge-cloud` (the metrics contract's label). */
  link: string;
  minor: number;
  classid: string;
  /** The class of the first link on the path (the capacity this path shares with others through it). */
  parent: string;
  prio: number;
  impairment: Impairment;
  /** htb's guaranteed rate: the parent's capacity divided among the paths through it. */
  rateBits: number;
  /** The path's rate (nominal line rate when unlimited). */
  ceilBits: number;
  leaf: { kind: LeafKind; handle: string; args: string[] };
  /** Destination prefixes `a.b.c.d/len`, sorted, without duplicates. */
  matches: string[];
}

/** One per link leaving this node's site that some path starts with. */
export interface DesiredLinkClass {
  link: string;
  to: SiteName;
  minor: number;
  classid: string;
  rateBits: number;
}

export interface DesiredTree {
  device: string;
  site: SiteName;
  profile: string;
  links: DesiredLinkClass[];
  classes: DesiredClass[];
}

export interface PlanWarning {
  node: string;
  message: string;
}

/** One tc invocation, without the leading `tc`. */
export type Command = string[];

/** What tc shows on the device, reduced to what the diff needs (see observe.ts). */
export interface ObservedTree {
  /** The root qdisc, or undefined when tc shows none. */
  root?: { kind: string; handle: string };
  /** Qdiscs attached below the root, keyed by their parent (`ec:2`). */
  leaves: Map<string, { kind: string; handle: string; options: Record<string, unknown> }>;
  /** htb classes keyed by classid. */
  classes: Map<string, { parent: string; rateBits?: number; ceilBits?: number }>;
  /** u32 filter entries attached to the root. */
  filters: Array<{ prio: number; handle: string; flowid: string; match: string }>;
}

export const EMPTY_OBSERVED: ObservedTree = Object.freeze({
  root: { kind: 'noqueue', handle: '0:' },
  leaves: new Map(),
  classes: new Map(),
  filters: [],
});

export class ForeignQdiscError extends Error {
  constructor(device: string, root: { kind: string; handle: string }) {
    super(
      `${device} already has a root qdisc "${root.kind}" with handle ${root.handle} that the link agent did not create; ` +
        `the agent replaces only the kernel's default root (handle 0:) or its own (handle ${ROOT_HANDLE}). ` +
        `Remove it (tc qdisc del dev ${device} root) if nothing else needs it, or use the proxy backend.`,
    );
    this.name = 'ForeignQdiscError';
  }
}

/** The tree this node should have: one class per other site of the profile, filters for that site's peers. */
export function desiredTree(input: PlanInput): { tree: DesiredTree; warnings: PlanWarning[] } {
  const { topology, site, device } = input;
  const leafKind = input.leaf ?? 'netem';
  const warnings: PlanWarning[] = [];
  if (!topology.sites.includes(site)) {
    throw new Error(
      `this node's site "${site}" is not declared by profile "${topology.name}" (sites: ${topology.sites.join(', ')}); ` +
        `fix the node's ${SITE_LABEL} label or the profile`,
    );
  }
  if (topology.sites.length > MAX_SITES)
    throw new Error(
      `profile "${topology.name}" declares ${topology.sites.length} sites; the netem plan handles at most ${MAX_SITES}`,
    );
  const matchesBySite = new Map<SiteName, Set<string>>();
  for (const peer of [...input.peers].sort((a, b) => a.name.localeCompare(b.name))) {
    if (peer.site === site) continue; // same site: no link crossed, nothing to add
    if (!topology.sites.includes(peer.site)) {
      warnings.push({
        node: peer.name,
        message: `site "${peer.site}" is not declared by profile "${topology.name}"; traffic to this node is not shaped`,
      });
      continue;
    }
    const prefixes: string[] = [];
    if (peer.address) {
      const host = ipv4Prefix(`${peer.address}/32`);
      if (host) prefixes.push(host);
      else warnings.push({ node: peer.name, message: `address ${peer.address} is not IPv4; not matched` });
    } else
      warnings.push({ node: peer.name, message: 'has no InternalIP yet; only its pod CIDRs are matched' });
    if (peer.podCIDRs.length === 0)
      warnings.push({ node: peer.name, message: 'has no pod CIDR yet; only its node IP is matched' });
    for (const cidr of peer.podCIDRs) {
      const p = ipv4Prefix(cidr);
      if (p) prefixes.push(p);
      else
        warnings.push({ node: peer.name, message: `pod CIDR ${cidr} is not IPv4; not matched (IPv4 only)` });
    }
    const set = matchesBySite.get(peer.site) ?? new Set<string>();
    for (const p of prefixes) set.add(p);
    matchesBySite.set(peer.site, set);
  }

  const classes: DesiredClass[] = [];
  const links = new Map<string, DesiredLinkClass>();
  const members = new Map<string, number>();
  const paths = topology.sites.flatMap((to, index) => {
    if (to === site) return [];
    const path = pathBetween(topology, site, to);
    const first = path[0];
    if (!first) return [];
    // Link classes are numbered after the directed link's place in the profile (0x11, 0x12, …), site classes
    // after the site's place (1, 2, …; hence at most 15 sites): stable while the profile's shape is.
    const linkMinor = 0x10 + topology.links.indexOf(first) + 1;
    const key = `${first.from}->${first.to}`;
    if (!links.has(key))
      links.set(key, {
        link: first.link,
        to: first.to,
        minor: linkMinor,
        classid: `${ROOT_MAJOR}:${linkMinor.toString(16)}`,
        rateBits: first.impairment.rateBitsPerSecond ?? NOMINAL_LINE_RATE_BITS,
      });
    members.set(key, (members.get(key) ?? 0) + 1);
    return [{ to, index, path, key }];
  });
  for (const { to, index, path, key } of paths) {
    const minor = index + 1;
    const impairment = pathImpairment(topology, site, to);
    const parent = links.get(key) as DesiredLinkClass;
    const ceilBits = Math.min(impairment.rateBitsPerSecond ?? NOMINAL_LINE_RATE_BITS, parent.rateBits);
    const limit = leafLimit(impairment);
    classes.push({
      to,
      link: path.map((l) => l.link).join('+'),
      minor,
      classid: `${ROOT_MAJOR}:${minor.toString(16)}`,
      parent: parent.classid,
      prio: minor,
      impairment,
      rateBits: Math.min(ceilBits, Math.floor(parent.rateBits / (members.get(key) ?? 1))),
      ceilBits,
      leaf: {
        kind: leafKind,
        handle: `${(0x100 + minor).toString(16)}:`,
        args: leafKind === 'netem' ? netemArgs(impairment, limit) : ['limit', String(limit)],
      },
      matches: [...(matchesBySite.get(to) ?? [])].sort(comparePrefixes),
    });
  }
  const linkClasses = [...links.values()].sort((a, b) => a.minor - b.minor);
  return { tree: { device, site, profile: topology.name, links: linkClasses, classes }, warnings };
}

/**
 * netem's queue holds every packet in flight on the emulated link: at least peak packets/s × (delay + jitter),
 * doubled for the jitter tail; beyond `limit` netem drops (the default 1000 is too small at Gbit rates).
 */
export function leafLimit(impairment: Impairment): number {
  const pps = (impairment.rateBitsPerSecond ?? NOMINAL_LINE_RATE_BITS) / (8 * SIZING_PACKET_BYTES);
  const inFlight = Math.ceil(2 * pps * (impairment.latencySeconds + impairment.jitterSeconds));
  return Math.min(MAX_LEAF_LIMIT, Math.max(MIN_LEAF_LIMIT, inFlight));
}

/** The full netem spec (`tc qdisc change` rewrites every field, so the spec is always complete). */
export function netemArgs(i: Impairment, limit: number): string[] {
  const args = ['limit', String(limit)];
  if (i.latencySeconds > 0 || i.jitterSeconds > 0) {
    args.push('delay', tcTime(i.latencySeconds));
    if (i.jitterSeconds > 0) {
      args.push(tcTime(i.jitterSeconds));
      // netem's default jitter distribution is uniform; the others read /usr/lib/tc/<name>.dist.
      if (i.distribution !== 'uniform') args.push('distribution', i.distribution);
    }
  }
  if (i.loss > 0) args.push('loss', 'random', tcPercent(i.loss));
  // netem's own rate serialises packets, which keeps their order under jitter.
  if (i.rateBitsPerSecond !== null) args.push('rate', tcRate(i.rateBitsPerSecond));
  return args;
}

/** Commands that take the device from `observed` to `tree`; none when it already matches. */
export function diffPlan(
  tree: DesiredTree,
  observed: ObservedTree,
  appliedLeaves: ReadonlyMap<string, string> = new Map(),
): Command[] {
  const dev = tree.device;
  const commands: Command[] = [];
  let current = observed;
  if (!isOwnRoot(observed.root)) {
    if (observed.root && observed.root.handle !== '0:') throw new ForeignQdiscError(dev, observed.root);
    // A kernel-default root (noqueue, fq_codel, mq, pfifo_fast; handle 0:) is replaced by ours.
    commands.push(['qdisc', 'replace', 'dev', dev, 'root', 'handle', ROOT_HANDLE, 'htb']);
    current = { ...EMPTY_OBSERVED, root: { kind: 'htb', handle: ROOT_HANDLE } };
  }
  const wanted = new Map<string, { parent: string; rateBits: number; ceilBits: number }>([
    ...tree.links.map(
      (l) => [l.classid, { parent: ROOT_HANDLE, rateBits: l.rateBits, ceilBits: l.rateBits }] as const,
    ),
    ...tree.classes.map(
      (c) => [c.classid, { parent: c.parent, rateBits: c.rateBits, ceilBits: c.ceilBits }] as const,
    ),
  ]);
  // htb cannot move a class to another parent: when the shape changed (a profile with other links), rebuild.
  const moved = [...wanted].some(([id, w]) => {
    const have = current.classes.get(id);
    return have !== undefined && have.parent !== w.parent;
  });
  if (moved) {
    return [['qdisc', 'del', 'dev', dev, 'root'], ...diffPlan(tree, EMPTY_OBSERVED)];
  }

  for (const [classid, w] of wanted) {
    const have = current.classes.get(classid);
    if (
      !have ||
      !sameRate(have.rateBits, w.rateBits) ||
      (have.ceilBits !== undefined && !sameRate(have.ceilBits, w.ceilBits))
    ) {
      commands.push([
        'class',
        'replace',
        'dev',
        dev,
        'parent',
        w.parent,
        'classid',
        classid,
        'htb',
        'rate',
        tcRate(w.rateBits),
        'ceil',
        tcRate(w.ceilBits),
        'quantum',
        String(HTB_QUANTUM),
      ]);
    }
  }
  for (const c of tree.classes) {
    const have = current.leaves.get(c.classid);
    const spec = leafSpec(c);
    if (have && (have.kind !== c.leaf.kind || have.handle !== c.leaf.handle)) {
      // `replace` cannot change a qdisc's kind under the same handle: delete, then add.
      commands.push(['qdisc', 'del', 'dev', dev, 'parent', c.classid]);
    } else if (have && leafMatches(c, have.options, appliedLeaves.get(c.classid) === spec)) continue;
    commands.push([
      'qdisc',
      'replace',
      'dev',
      dev,
      'parent',
      c.classid,
      'handle',
      c.leaf.handle,
      c.leaf.kind,
      ...c.leaf.args,
    ]);
  }

  const desiredFilters = new Set(
    tree.classes.flatMap((c) => c.matches.map((m) => filterKey(c.prio, m, c.classid))),
  );
  const existing = new Set<string>();
  // Deletions first: htb refuses to delete a class a filter still points at.
  for (const f of current.filters) {
    const key = filterKey(f.prio, f.match, f.flowid);
    if (desiredFilters.has(key) && !existing.has(key)) existing.add(key);
    else
      commands.push([
        'filter',
        'del',
        'dev',
        dev,
        'parent',
        ROOT_HANDLE,
        'protocol',
        'ip',
        'prio',
        String(f.prio),
        'handle',
        f.handle,
        'u32',
      ]);
  }
  for (const c of tree.classes) {
    for (const m of c.matches) {
      if (existing.has(filterKey(c.prio, m, c.classid))) continue;
      commands.push([
        'filter',
        'add',
        'dev',
        dev,
        'parent',
        ROOT_HANDLE,
        'protocol',
        'ip',
        'prio',
        String(c.prio),
        'u32',
        'match',
        'ip',
        'dst',
        m,
        'flowid',
        c.classid,
      ]);
    }
  }
  // Leaf classes before the link classes above them (htb refuses to delete a class that has children).
  const stale = [...current.classes]
    .filter(([id]) => !wanted.has(id))
    .sort(([a, x], [b, y]) => depth(y.parent) - depth(x.parent) || a.localeCompare(b));
  for (const [classid] of stale) commands.push(['class', 'del', 'dev', dev, 'classid', classid]);
  return commands;
}

/** Removes what the agent created (its root and so everything below), and nothing else. */
export function teardownPlan(device: string, observed: ObservedTree): Command[] {
  return isOwnRoot(observed.root) ? [['qdisc', 'del', 'dev', device, 'root']] : [];
}

/** The string a leaf is applied with: kept by the agent to tell whether a netem leaf needs re-applying. */
export function leafSpec(c: DesiredClass): string {
  return [c.leaf.kind, c.leaf.handle, ...c.leaf.args].join(' ');
}

/** One line per class, for logs, the status ConfigMap and the CLI. */
export function summarize(tree: DesiredTree): string[] {
  return tree.classes.map(
    (c) =>
      `${tree.site}->${c.to} (${c.link}) class ${c.classid}: ${c.leaf.kind} ${c.leaf.args.join(' ')}; ` +
      `${c.matches.length} prefix${c.matches.length === 1 ? '' : 'es'}${c.matches.length ? `: ${c.matches.join(', ')}` : ''}`,
  );
}

export function formatCommand(command: Command): string {
  return ['tc', ...command].join(' ');
}

function depth(parent: string): number {
  return parent === ROOT_HANDLE ? 0 : 1;
}

function isOwnRoot(root: ObservedTree['root']): boolean {
  return root?.kind === 'htb' && root.handle === ROOT_HANDLE;
}

function leafMatches(c: DesiredClass, options: Record<string, unknown>, appliedByUs: boolean): boolean {
  // pfifo's one parameter reads back exactly; netem's spec is compared with what this process applied last
  // (after a restart the agent re-applies each leaf once: `replace` with the same spec is harmless).
  if (c.leaf.kind === 'pfifo') return options.limit === Number(c.leaf.args[1]);
  if (typeof options.limit === 'number' && options.limit !== Number(c.leaf.args[1])) return false;
  return appliedByUs;
}

function sameRate(observed: number | undefined, wanted: number): boolean {
  // tc prints rates rounded to its units (e.g. 2.5Gbit); half a percent tells a change from rounding.
  return observed !== undefined && Math.abs(observed - wanted) <= wanted * 0.005;
}

function filterKey(prio: number, match: string, flowid: string): string {
  return `${prio}|${match}|${flowid}`;
}

/** Normalises `a.b.c.d/len` (host bits cleared); undefined when it is not an IPv4 prefix. */
export function ipv4Prefix(cidr: string): string | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const len = Number(m[5]);
  if (octets.some((o) => o > 255) || len > 32) return undefined;
  const value = octets.reduce((acc, o) => acc * 256 + o, 0);
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return `${intToIpv4((value & mask) >>> 0)}/${len}`;
}

export function intToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

function comparePrefixes(a: string, b: string): number {
  const [ha, la] = a.split('/');
  const [hb, lb] = b.split('/');
  const na = (ha ?? '').split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const nb = (hb ?? '').split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  return na - nb || Number(la) - Number(lb);
}

/** A time as tc reads it: whole milliseconds as `6ms`, otherwise microseconds. */
export function tcTime(seconds: number): string {
  const us = Math.round(seconds * 1e6);
  return us % 1000 === 0 ? `${us / 1000}ms` : `${us}us`;
}

/** A rate as tc reads it, exact: `80mbit`, `10gbit`, else bits. */
export function tcRate(bits: number): string {
  const b = Math.round(bits);
  if (b % 1e9 === 0) return `${b / 1e9}gbit`;
  if (b % 1e6 === 0) return `${b / 1e6}mbit`;
  if (b % 1e3 === 0) return `${b / 1e3}kbit`;
  return `${b}bit`;
}

/** A probability as a tc percentage with six significant digits: `0.1%`, `0.10999%`. */
export function tcPercent(fraction: number): string {
  return `${Number((fraction * 100).toPrecision(6))}%`;
}
