// Turns whatever was read from a profile file into a Topology, or into every problem found, each with the
// path in the document, what is wrong and what is allowed. Nothing half-valid gets through: callers keep
// their last good topology when this returns problems.
import {
  API_VERSION,
  DEFAULT_CORES,
  type DirectedLink,
  type Impairment,
  type ImpairmentDocument,
  JITTER_DISTRIBUTIONS,
  type JitterDistribution,
  KIND,
  LINK_ROLES,
  SITE_ROLES,
  type Site,
  type SiteName,
  type Topology,
} from './model.ts';
import { pathBetween } from './paths.ts';
import { parseCores, parseDuration, parseLoss, parseRate } from './units.ts';

export interface Problem {
  /** Where in the document, e.g. `links.ue-edge.latency`. */
  path: string;
  message: string;
}

export type Validation = { ok: true; topology: Topology } | { ok: false; problems: Problem[] };

export class ProfileError extends Error {
  readonly problems: Problem[];
  readonly source: string;
  constructor(source: string, problems: Problem[]) {
    super(formatProblems(source, problems));
    this.name = 'ProfileError';
    this.source = source;
    this.problems = problems;
  }
}

export function formatProblems(source: string, problems: Problem[]): string {
  const lines = problems.map((p) => `  ${source}: ${p.path || '(document)'}: ${p.message}`);
  return `invalid link profile (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

// Exported so the JSON Schema (schema.ts) is generated from the same rules.
export const SITE_NAME = /^[a-z][a-z0-9]{0,14}$/;
export const PROFILE_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const SITE_KEYS = ['role', 'cores'];
export const TOP_KEYS = ['apiVersion', 'kind', 'name', 'description', 'sources', 'sites', 'links'];
export const IMPAIRMENT_KEYS = ['latency', 'jitter', 'distribution', 'loss', 'rate'];
export const LINK_KEYS = [...IMPAIRMENT_KEYS, 'description', 'directions'];

export function validateProfile(doc: unknown): Validation {
  const problems: Problem[] = [];
  const add = (path: string, message: string) => problems.push({ path, message });
  if (!isRecord(doc)) {
    return { ok: false, problems: [{ path: '', message: 'a link profile must be a mapping (YAML object)' }] };
  }
  unknownKeys(doc, TOP_KEYS, '', add);
  if (doc.apiVersion !== API_VERSION)
    add('apiVersion', `must be "${API_VERSION}", got ${JSON.stringify(doc.apiVersion)}`);
  if (doc.kind !== KIND) add('kind', `must be "${KIND}", got ${JSON.stringify(doc.kind)}`);
  const name = typeof doc.name === 'string' && PROFILE_NAME.test(doc.name) ? doc.name : '';
  if (!name)
    add(
      'name',
      `must be lower-case letters, digits and dashes (at most 63), got ${JSON.stringify(doc.name)}`,
    );
  if (doc.description !== undefined && typeof doc.description !== 'string')
    add('description', 'must be a string');
  if (
    doc.sources !== undefined &&
    !(Array.isArray(doc.sources) && doc.sources.every((s) => typeof s === 'string'))
  ) {
    add('sources', 'must be a list of strings');
  }

  const siteSpecs = parseSites(doc.sites, add);
  const sites = Object.keys(siteSpecs);

  const links: DirectedLink[] = [];
  if (!isRecord(doc.links) || Object.keys(doc.links).length === 0) {
    add('links', 'must map link names "a-b" (e.g. "ue-edge") to their latency, jitter, loss and rate');
  } else {
    const seenPairs = new Set<string>();
    for (const [key, raw] of Object.entries(doc.links)) {
      const at = `links.${key}`;
      const ends = key.split('-');
      const [a, b] = ends;
      if (ends.length !== 2 || !a || !b || a === b) {
        add(at, `link names are two different sites joined by "-" (e.g. "ue-edge"), got "${key}"`);
        continue;
      }
      for (const end of [a, b]) {
        if (!sites.includes(end))
          add(at, `names site "${end}", which is not declared (sites: ${sites.join(', ')})`);
      }
      const roles = [siteSpecs[a]?.role, siteSpecs[b]?.role];
      if (
        roles[0] &&
        roles[1] &&
        !LINK_ROLES.some(([x, y]) => (roles[0] === x && roles[1] === y) || (roles[0] === y && roles[1] === x))
      ) {
        add(
          at,
          `joins a ${roles[0]} site to a ${roles[1]} site; links join ${LINK_ROLES.map((r) => r.join('-')).join(' or ')} (the testbed routes a UE to the cloud through the edge)`,
        );
      }
      const pair = [a, b].sort().join('|');
      if (seenPairs.has(pair)) add(at, `joins ${a} and ${b}, which another link already joins`);
      seenPairs.add(pair);
      if (!isRecord(raw)) {
        add(at, 'must be a mapping with latency, jitter, distribution, loss, rate');
        continue;
      }
      unknownKeys(raw, LINK_KEYS, at, add);
      if (raw.description !== undefined && typeof raw.description !== 'string')
        add(`${at}.description`, 'must be a string');
      const overrides = raw.directions ?? {};
      const allowed = [`${a}->${b}`, `${b}->${a}`];
      if (!isRecord(overrides)) add(`${at}.directions`, `must map ${allowed.join(' or ')} to overrides`);
      else {
        for (const k of Object.keys(overrides)) {
          if (!allowed.includes(k))
            add(`${at}.directions.${k}`, `is not a direction of this link; use ${allowed.join(' or ')}`);
        }
      }
      for (const [from, to] of [
        [a, b],
        [b, a],
      ] as const) {
        const override = isRecord(overrides) ? overrides[`${from}->${to}`] : undefined;
        if (override !== undefined) {
          if (!isRecord(override)) {
            add(
              `${at}.directions.${from}->${to}`,
              'must be a mapping of latency, jitter, distribution, loss, rate',
            );
            continue;
          }
          unknownKeys(override, IMPAIRMENT_KEYS, `${at}.directions.${from}->${to}`, add);
        }
        const merged = {
          ...(raw as ImpairmentDocument),
          ...((override as ImpairmentDocument | undefined) ?? {}),
        };
        const impairment = parseImpairment(merged, override ? `${at}.directions.${from}->${to}` : at, add);
        if (impairment) links.push({ link: key, from, to, impairment });
      }
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  const topology: Topology = {
    name,
    description: (doc.description as string | undefined) ?? '',
    sources: (doc.sources as string[] | undefined) ?? [],
    sites,
    siteSpecs,
    links,
  };
  for (const from of sites) {
    for (const to of sites) {
      if (from === to) continue;
      try {
        pathBetween(topology, from, to);
      } catch {
        add('links', `no chain of links joins "${from}" to "${to}"; every site must be reachable`);
      }
    }
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, topology };
}

/** The sites: the three roles' sites always, their compute from the document where it says. */
function parseSites(raw: unknown, add: (path: string, message: string) => void): Record<SiteName, Site> {
  const specs: Record<SiteName, Site> = {};
  for (const role of SITE_ROLES)
    specs[role] = { name: role, role, cores: role === 'ue' ? null : DEFAULT_CORES[role] };
  if (raw === undefined) return specs;
  const notARole = () =>
    `is not a site of the testbed: it has one site per role, named after it (${SITE_ROLES.join(', ')})`;
  if (Array.isArray(raw)) {
    // The list form names the sites only; each keeps its default compute.
    if (!raw.every((s) => typeof s === 'string')) {
      add('sites', `must map site names (${SITE_ROLES.join(', ')}) to their role and cores`);
      return specs;
    }
    raw.forEach((name, i) => {
      if (!(SITE_ROLES as readonly string[]).includes(name)) add(`sites.${i}`, `"${name}" ${notARole()}`);
    });
    if (new Set(raw).size !== raw.length) add('sites', 'lists a site twice');
    for (const role of SITE_ROLES) {
      if (!raw.includes(role))
        add('sites', `must include "${role}" (required sites: ${SITE_ROLES.join(', ')})`);
    }
    return specs;
  }
  if (!isRecord(raw)) {
    add('sites', `must map site names (${SITE_ROLES.join(', ')}) to their role and cores`);
    return specs;
  }
  for (const [name, value] of Object.entries(raw)) {
    const at = `sites.${name}`;
    const spec = specs[name];
    if (!spec) {
      add(at, notARole());
      continue;
    }
    if (value === null) continue;
    if (!isRecord(value)) {
      add(at, 'must be a mapping with role and cores');
      continue;
    }
    unknownKeys(value, SITE_KEYS, at, add);
    if (value.role !== undefined && value.role !== spec.role)
      add(
        `${at}.role`,
        `must be "${spec.role}", the role this site is named after, got ${JSON.stringify(value.role)}`,
      );
    if (value.cores !== undefined) {
      if (spec.cores === null)
        add(`${at}.cores`, 'a ue site runs the load, not services: cores apply to edge and cloud sites');
      else {
        const cores = parseCores(value.cores);
        if (cores.ok) spec.cores = cores.value;
        else add(`${at}.cores`, cores.message);
      }
    }
  }
  return specs;
}

/** Validates or throws a ProfileError naming `source` (a file or preset name) in its message. */
export function topologyFrom(doc: unknown, source: string): Topology {
  const result = validateProfile(doc);
  if (!result.ok) throw new ProfileError(source, result.problems);
  return result.topology;
}

function parseImpairment(
  doc: ImpairmentDocument,
  at: string,
  add: (path: string, message: string) => void,
): Impairment | undefined {
  let failed = false;
  const fail = (path: string, message: string) => {
    failed = true;
    add(path, message);
  };
  const latency = doc.latency === undefined ? { ok: true as const, value: 0 } : parseDuration(doc.latency);
  if (!latency.ok) fail(`${at}.latency`, latency.message);
  else if (latency.value > 10) fail(`${at}.latency`, 'must be at most 10s');
  const jitter = doc.jitter === undefined ? { ok: true as const, value: 0 } : parseDuration(doc.jitter);
  if (!jitter.ok) fail(`${at}.jitter`, jitter.message);
  if (latency.ok && jitter.ok && jitter.value > latency.value) {
    fail(
      `${at}.jitter`,
      `(${doc.jitter}) exceeds the latency (${doc.latency ?? '0ms'}); a delay cannot go below zero`,
    );
  }
  const distribution = doc.distribution ?? 'normal';
  if (!JITTER_DISTRIBUTIONS.includes(distribution as JitterDistribution)) {
    fail(
      `${at}.distribution`,
      `must be one of ${JITTER_DISTRIBUTIONS.join(', ')}, got ${JSON.stringify(distribution)}`,
    );
  }
  const loss = doc.loss === undefined ? { ok: true as const, value: 0 } : parseLoss(doc.loss);
  if (!loss.ok) fail(`${at}.loss`, loss.message);
  const rate = doc.rate === undefined ? { ok: true as const, value: null } : parseRate(doc.rate);
  if (!rate.ok) fail(`${at}.rate`, rate.message);
  if (failed || !latency.ok || !jitter.ok || !loss.ok || !rate.ok) return undefined;
  return {
    latencySeconds: latency.value,
    jitterSeconds: jitter.value,
    distribution: distribution as JitterDistribution,
    loss: loss.value,
    rateBitsPerSecond: rate.value,
  };
}

function unknownKeys(
  obj: Record<string, unknown>,
  allowed: string[],
  at: string,
  add: (path: string, message: string) => void,
) {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key))
      add(at ? `${at}.${key}` : key, `is not a known field; allowed here: ${allowed.join(', ')}`);
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
