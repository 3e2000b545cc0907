// Turns whatever was read from a profile file into a Topology, or into every problem found, each once, with
// the path in the document, what is wrong and what is allowed. The schema (schema.ts) checks each field and
// each link's name; this file checks what spans fields: a link written twice, its directions, jitter against
// latency, every link the testbed routes through present. Nothing half-valid gets through: callers keep
// their last good topology when this returns problems.
import { checkedBy, DocumentError, finishProblems, type Problem } from './located.ts';
import {
  DEFAULT_CORES,
  type DirectedLink,
  type Impairment,
  LINK_ROLES,
  SITE_ROLES,
  type Site,
  type SiteName,
  type Topology,
} from './model.ts';
import { linkProfileSchema, type ParsedProfile } from './schema.ts';
import { formatDuration } from './units.ts';

export type { Problem } from './located.ts';
export { formatProblems } from './located.ts';
export { PROFILE_NAME, SITE_NAME } from './schema.ts';

export type Validation = { ok: true; topology: Topology } | { ok: false; problems: Problem[] };

export class ProfileError extends DocumentError {
  constructor(source: string, problems: Problem[]) {
    super('link profile', source, problems);
    this.name = 'ProfileError';
  }
}

type ParsedLink = ParsedProfile['links'][string];
type ParsedImpairment = Omit<ParsedLink, 'description' | 'directions'>;

export function validateProfile(doc: unknown): Validation {
  const parsed = checkedBy(linkProfileSchema, doc);
  if (!parsed.ok) return parsed;
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  const profile = parsed.value;
  const siteSpecs = siteSpecsOf(profile.sites, add);
  const sites = Object.keys(siteSpecs);
  const links: DirectedLink[] = [];
  const joined = new Map<string, string>();
  for (const [key, link] of Object.entries(profile.links)) {
    const at = `links.${key}`;
    // The schema has checked the name: two different sites of the testbed whose roles a link may join.
    const [a, b] = key.split('-') as [SiteName, SiteName];
    const pair = [a, b].sort().join('-');
    const other = joined.get(pair);
    if (other) {
      add(at, `joins ${a} and ${b}, which link "${other}" already joins`);
      continue;
    }
    joined.set(pair, key);
    const allowed = [`${a}->${b}`, `${b}->${a}`];
    for (const direction of Object.keys(link.directions ?? {})) {
      if (!allowed.includes(direction))
        add(`${at}.directions.${direction}`, `is not a direction of this link; use ${allowed.join(' or ')}`);
    }
    // The link-wide fields were parsed once; each direction adds only its own override, so a problem of the
    // link is reported once, at the link, and a problem of an override at the override.
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const override = link.directions?.[`${from}->${to}`];
      const impairment = impairmentOf({ ...link, ...override });
      const sameSpread = override?.latency === undefined && override?.jitter === undefined;
      const where = sameSpread ? at : `${at}.directions.${from}->${to}`;
      if (impairment.jitterSeconds > impairment.latencySeconds) {
        add(
          `${where}.jitter`,
          `(${formatDuration(impairment.jitterSeconds)}) exceeds the latency (${formatDuration(impairment.latencySeconds)}); a delay cannot go below zero`,
        );
      }
      links.push({ link: key, from, to, impairment });
    }
  }
  // Every link the testbed routes through must be there, so every site reaches every other.
  for (const [x, y] of LINK_ROLES) {
    if (!joined.has([x, y].sort().join('-')))
      add(
        'links',
        `has no ${x}-${y} link; the testbed routes through ${LINK_ROLES.map((r) => r.join('-')).join(' and ')}`,
      );
  }
  if (problems.length > 0) return { ok: false, problems: finishProblems(problems) };
  const topology: Topology = {
    name: profile.name,
    description: profile.description ?? '',
    sources: profile.sources ?? [],
    sites,
    siteSpecs,
    links,
  };
  return { ok: true, topology };
}

/** Validates or throws a ProfileError naming `source` (a file or preset name) in its message. */
export function topologyFrom(doc: unknown, source: string): Topology {
  const result = validateProfile(doc);
  if (!result.ok) throw new ProfileError(source, result.problems);
  return result.topology;
}

/** The sites: the three roles' sites always, their compute from the document where it says. */
function siteSpecsOf(
  written: ParsedProfile['sites'],
  add: (path: string, message: string) => void,
): Record<SiteName, Site> {
  const specs: Record<SiteName, Site> = {};
  for (const role of SITE_ROLES)
    specs[role] = { name: role, role, cores: role === 'ue' ? null : DEFAULT_CORES[role] };
  if (written === undefined) return specs;
  if (Array.isArray(written)) {
    // The list form names the sites only; each keeps its default compute.
    if (new Set(written).size !== written.length) add('sites', 'lists a site twice');
    for (const role of SITE_ROLES) {
      if (!written.includes(role))
        add('sites', `must include "${role}" (required sites: ${SITE_ROLES.join(', ')})`);
    }
    return specs;
  }
  for (const [name, site] of Object.entries(written)) {
    const spec = specs[name];
    if (!spec || !site) continue;
    if (site.role !== undefined && site.role !== spec.role)
      add(
        `sites.${name}.role`,
        `must be "${spec.role}", the role this site is named after, got "${site.role}"`,
      );
    if (site.cores !== undefined) {
      if (spec.cores === null)
        add(
          `sites.${name}.cores`,
          'a ue site runs the load, not services: cores apply to edge and cloud sites',
        );
      else spec.cores = site.cores;
    }
  }
  return specs;
}

function impairmentOf(written: ParsedImpairment): Impairment {
  return {
    latencySeconds: written.latency ?? 0,
    jitterSeconds: written.jitter ?? 0,
    distribution: written.distribution ?? 'normal',
    loss: written.loss ?? 0,
    rateBitsPerSecond: written.rate ?? null,
  };
}
