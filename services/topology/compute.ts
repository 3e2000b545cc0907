// Site compute: the CPU cores an edge or cloud site has, and what that means for the processes running there.
// The dev launcher sizes each service's worker pool from it, the kind manifests their CPU limits, so "a 1-core
// edge against a 4-core cloud" is one profile setting that both targets enforce.
import type { SiteName, Topology } from './model.ts';

export interface SiteCompute {
  site: SiteName;
  /** Cores the site has (fractions allowed, in millicores, as Kubernetes counts them). */
  cores: number;
  /** Worker threads a service at this site runs: the cores rounded, at least one. */
  workers: number;
  /** The Kubernetes CPU quantity for a container's limit: `500m`, `1`, `4`. */
  cpuLimit: string;
}

/** The compute of a site that runs services (edge or cloud); throws for the UE or an unknown site. */
export function siteCompute(topology: Topology, site: SiteName): SiteCompute {
  const spec = topology.siteSpecs[site];
  if (!spec)
    throw new Error(`profile "${topology.name}" has no site "${site}" (sites: ${topology.sites.join(', ')})`);
  if (spec.cores === null)
    throw new Error(
      `site "${site}" of profile "${topology.name}" is a ${spec.role} site: it runs no services`,
    );
  return { site, cores: spec.cores, workers: workersFor(spec.cores), cpuLimit: cpuQuantity(spec.cores) };
}

/**
 * The environment a service process at a site starts with, the same under `make dev` and on kind: SITE_CORES sizes
 * its worker pool; UV_THREADPOOL_SIZE gives libuv's pool (Node's default: 4 threads, shared by the whole process)
 * a thread per worker, since each worker's image decode runs there. MALLOC_ARENA_MAX: glibc gives every thread
 * that allocates its own arena and keeps what each has held, so decodes spread over libuv's threads grow the
 * resident set long after they end (sharp's documentation warns of it); two arenas kept an edge fuzzed with
 * hostile images at 408 MiB where the default reached 529.
 */
export function siteProcessEnv(
  topology: Topology,
  site: SiteName,
): Record<'SITE_CORES' | 'UV_THREADPOOL_SIZE' | 'MALLOC_ARENA_MAX', string> {
  const c = siteCompute(topology, site);
  return {
    SITE_CORES: String(c.cores),
    UV_THREADPOOL_SIZE: String(Math.max(4, c.workers)),
    MALLOC_ARENA_MAX: '2',
  };
}

/** Worker threads for a number of cores: a thread cannot be split, so round, and never fewer than one. */
export function workersFor(cores: number): number {
  return Math.max(1, Math.round(cores));
}

/** Cores as a Kubernetes CPU quantity: whole cores plain (`2`), otherwise millicores (`500m`). */
export function cpuQuantity(cores: number): string {
  const milli = Math.round(cores * 1000);
  return milli % 1000 === 0 ? String(milli / 1000) : `${milli}m`;
}
