// The one topology model of the testbed: sites, the links between them and what each link does to traffic.
// Manifests, both emulation backends, dashboards, load scenarios and the CLI read it; no number lives
// anywhere else. A profile is written as a `LinkProfileDocument` (YAML, with units) and validated into a
// `Topology` (SI numbers, one `DirectedLink` per direction).

/** Sites every profile has. `ue` is the device/radio side, `edge` the MEC host, `cloud` the central region. */
export const REQUIRED_SITES = ['ue', 'edge', 'cloud'] as const;
export type SiteName = string;

export const API_VERSION = 'mec-testbed.dev/v1alpha1';
export const KIND = 'LinkProfile';

/** How netem (and the proxy) draw jitter. netem's own default is uniform; radio jitter is heavy-tailed. */
export const JITTER_DISTRIBUTIONS = ['uniform', 'normal', 'pareto', 'paretonormal'] as const;
export type JitterDistribution = (typeof JITTER_DISTRIBUTIONS)[number];

/** One direction's impairment, as written in a profile (units in the strings). */
export interface ImpairmentDocument {
  latency?: string;
  jitter?: string;
  distribution?: JitterDistribution;
  loss?: string | number;
  rate?: string;
}

/** A link as written: the shared impairment plus optional per-direction overrides keyed `a->b`. */
export interface LinkDocument extends ImpairmentDocument {
  description?: string;
  directions?: Record<string, ImpairmentDocument>;
}

/** A link profile as a user writes it (YAML) or as a preset declares it. */
export interface LinkProfileDocument {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  name: string;
  description?: string;
  sources?: string[];
  /** Sites beyond the required three may be declared; default is exactly the required ones. */
  sites?: SiteName[];
  /** Keyed `a-b` (undirected). */
  links: Record<string, LinkDocument>;
}

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

export interface Topology {
  name: string;
  description: string;
  sources: string[];
  sites: SiteName[];
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
