// The one topology model of the testbed: sites, the links between them and what each link does to traffic.
// Manifests, both emulation backends, dashboards, load scenarios and the CLI read it; no number lives
// anywhere else. A profile is written as a `LinkProfileDocument` (schema.ts: YAML, with units) and validated
// into a `Topology` (validate.ts: SI numbers, one `DirectedLink` per direction).

/**
 * What a site is for: `ue` is the device/radio side (where load comes from), `edge` a MEC host, `cloud` the
 * central region. Traffic from a UE reaches the cloud through an edge, so links join ue–edge or edge–cloud.
 */
export const SITE_ROLES = ['ue', 'edge', 'cloud'] as const;
export type SiteRole = (typeof SITE_ROLES)[number];
/**
 * Sites every profile has, one per role and named after it: every consumer (kind nodes, services, dashboards,
 * rules) knows them by these names. The `sites` mapping gives each a role so more edge sites can come later.
 */
export const REQUIRED_SITES = SITE_ROLES;
export type SiteName = string;

/** The links the testbed routes through: a UE reaches an edge, an edge reaches the cloud. */
export const LINK_ROLES: ReadonlyArray<readonly [SiteRole, SiteRole]> = [
  ['ue', 'edge'],
  ['edge', 'cloud'],
];

/**
 * CPU cores of a site that runs services, when a profile does not say: what the kind manifests always gave
 * them (edge 500m, cloud 1), so a profile without `sites` behaves as before. The UE runs load, not services.
 */
export const DEFAULT_CORES: Readonly<Record<Exclude<SiteRole, 'ue'>, number>> = Object.freeze({
  edge: 0.5,
  cloud: 1,
});

/** The range of `cores`: a tenth of a core (a Node process barely starts below) up to 64, in millicores. */
export const CORES_RANGE = Object.freeze({ min: 0.1, max: 64, step: 0.001 });

export const API_VERSION = 'mec-testbed.dev/v1alpha1';
export const KIND = 'LinkProfile';

/** How netem (and the proxy) draw jitter. netem's own default is uniform; radio jitter is heavy-tailed. */
export const JITTER_DISTRIBUTIONS = ['uniform', 'normal', 'pareto', 'paretonormal'] as const;
export type JitterDistribution = (typeof JITTER_DISTRIBUTIONS)[number];

/** One direction's impairment in SI units. `rateBitsPerSecond` null means not limited. */
export interface Impairment {
  latencySeconds: number;
  jitterSeconds: number;
  distribution: JitterDistribution;
  loss: number;
  rateBitsPerSecond: number | null;
}

export interface DirectedLink {
  /** The undirected link's name, `a-b`, as used in metric labels. */
  link: string;
  from: SiteName;
  to: SiteName;
  impairment: Impairment;
}

/** A site of the topology. `cores` is null for the UE, which runs no services. */
export interface Site {
  name: SiteName;
  role: SiteRole;
  cores: number | null;
}

export interface Topology {
  name: string;
  description: string;
  sources: string[];
  /** Site names in role order (ue, edge, cloud). */
  sites: SiteName[];
  /** Every site's role and compute, keyed by name. */
  siteSpecs: Record<SiteName, Site>;
  /** Both directions of every declared link. */
  links: DirectedLink[];
}

export const NO_IMPAIRMENT: Impairment = Object.freeze({
  latencySeconds: 0,
  jitterSeconds: 0,
  distribution: 'normal',
  loss: 0,
  rateBitsPerSecond: null,
});
