// Path arithmetic: what traffic between two sites crosses, and what that adds up to. Traffic from `ue` to
// `cloud` crosses ue–edge and then edge–cloud, so the cloud is "further along the same path"; this is the
// one place that adds links up (kind routes ue → cloud directly, so the netem plan needs the sum too).
import type { DirectedLink, Impairment, SiteName, SiteRole, Topology } from './model.ts';

/** The links crossed from `from` to `to`, fewest hops first (ties broken by declaration order). */
export function pathBetween(topology: Topology, from: SiteName, to: SiteName): DirectedLink[] {
  if (from === to) return [];
  const previous = new Map<SiteName, DirectedLink>();
  const seen = new Set<SiteName>([from]);
  let frontier: SiteName[] = [from];
  while (frontier.length > 0 && !seen.has(to)) {
    const next: SiteName[] = [];
    for (const site of frontier) {
      for (const link of topology.links) {
        if (link.from !== site || seen.has(link.to)) continue;
        seen.add(link.to);
        previous.set(link.to, link);
        next.push(link.to);
      }
    }
    frontier = next;
  }
  if (!seen.has(to))
    throw new Error(`no path from site "${from}" to site "${to}" in profile "${topology.name}"`);
  const path: DirectedLink[] = [];
  for (let at = to; at !== from; ) {
    const link = previous.get(at);
    if (!link) throw new Error(`broken path to "${at}"`);
    path.unshift(link);
    at = link.from;
  }
  return path;
}

/**
 * What a chain of links does in total: latencies add, independent jitters add in variance, a packet survives
 * only if it survives every hop, and the narrowest link sets the rate. The distribution is the first hop's
 * when all agree, otherwise `normal` (a sum of independent jitters tends to it).
 */
export function combine(impairments: readonly Impairment[]): Impairment {
  const distributions = new Set(impairments.map((i) => i.distribution));
  const rates = impairments.map((i) => i.rateBitsPerSecond).filter((r): r is number => r !== null);
  // Rounded so sums print as written (6ms + 9ms is 0.015, not 0.015000000000000001): delays to the
  // nanosecond the schedulers count in, loss to 12 significant digits (1-(1-p) is not p in floating point).
  return {
    latencySeconds: toNanosecond(sum(impairments.map((i) => i.latencySeconds))),
    jitterSeconds: toNanosecond(Math.sqrt(sum(impairments.map((i) => i.jitterSeconds ** 2)))),
    distribution: distributions.size === 1 ? (impairments[0]?.distribution ?? 'normal') : 'normal',
    loss: Number((1 - impairments.reduce((survive, i) => survive * (1 - i.loss), 1)).toPrecision(12)),
    rateBitsPerSecond: rates.length > 0 ? Math.min(...rates) : null,
  };
}

/** The combined one-way impairment from one site to another. */
export function pathImpairment(topology: Topology, from: SiteName, to: SiteName): Impairment {
  return combine(pathBetween(topology, from, to).map((l) => l.impairment));
}

/** Mean round trip added by the network between two sites (there and back, no processing). */
export function roundTripSeconds(topology: Topology, a: SiteName, b: SiteName): number {
  return toNanosecond(
    pathImpairment(topology, a, b).latencySeconds + pathImpairment(topology, b, a).latencySeconds,
  );
}

/**
 * What an HTTP request pays in round trips. Every packet is delayed, handshakes included, so a request on a
 * new TCP connection costs the SYN/SYN-ACK round trip plus the request/response one; a reused connection
 * costs one. Users of other tools file "delay applied twice" bugs because nobody shows them this budget.
 */
export function requestBudget(topology: Topology, from: SiteName, to: SiteName) {
  const rtt = roundTripSeconds(topology, from, to);
  return {
    oneWaySeconds: pathImpairment(topology, from, to).latencySeconds,
    roundTripSeconds: rtt,
    reusedConnectionSeconds: rtt,
    newConnectionSeconds: 2 * rtt,
  };
}

/** The headline figure: how much lower the ue→edge round trip is than the ue→cloud one (0.6 = 60%). */
export function predictedReduction(topology: Topology, client = 'ue', near = 'edge', far = 'cloud'): number {
  const farRtt = roundTripSeconds(topology, client, far);
  if (farRtt === 0) return 0;
  return Number((1 - roundTripSeconds(topology, client, near) / farRtt).toPrecision(12));
}

/** The one site with a role (the testbed has one per role). */
export function siteWithRole(topology: Topology, role: SiteRole): SiteName {
  const site = topology.sites.find((name) => topology.siteSpecs[name]?.role === role);
  if (!site) throw new Error(`profile "${topology.name}" has no ${role} site`);
  return site;
}

/** What a profile predicts the UE sees: its round trip to every site that runs services, and the edge's cut. */
export interface Prediction {
  /** The UE's site. */
  client: SiteName;
  /** Network round trip from the UE to each edge and cloud site (no processing). */
  roundTripSeconds: Record<SiteName, number>;
  /** 1 - RTT(edge) / RTT(cloud). */
  edgeReduction: number;
}

export function prediction(topology: Topology): Prediction {
  const client = siteWithRole(topology, 'ue');
  const targets = topology.sites.filter((s) => s !== client);
  return {
    client,
    roundTripSeconds: Object.fromEntries(targets.map((to) => [to, roundTripSeconds(topology, client, to)])),
    edgeReduction: predictedReduction(
      topology,
      client,
      siteWithRole(topology, 'edge'),
      siteWithRole(topology, 'cloud'),
    ),
  };
}

/** Every ordered pair of distinct sites, for tables, gauges and plans. */
export function sitePairs(topology: Topology): Array<[SiteName, SiteName]> {
  return topology.sites.flatMap((a) =>
    topology.sites.filter((b) => b !== a).map((b): [SiteName, SiteName] => [a, b]),
  );
}

function toNanosecond(seconds: number): number {
  return Math.round(seconds * 1e9) / 1e9;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
