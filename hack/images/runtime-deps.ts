// The npm packages the images import at run time (edge, cloud, and the link proxy with the topology model it
// reads profiles with). The repo's package.json also lists tools and other components' libraries (the
// Kubernetes client alone is 65 MB), so the images keep only the lockfile closure of these; a test checks that
// every bare import in the code the images ship (IMAGE_SOURCE_DIRS) is listed here.
export const RUNTIME_DEPENDENCIES = ['express', 'prom-client', 'pngjs', 'yaml'] as const;

/** The source directories services/Dockerfile copies into the images. */
export const IMAGE_SOURCE_DIRS = [
  'services/skeleton',
  'services/workloads',
  'services/edge',
  'services/cloud',
  'services/topology',
  'services/link-proxy',
] as const;

interface LockPackage {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  dev?: boolean;
}

export interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
}

/** Pure: where node would find `name` from the package at `from` (a lockfile key), or undefined. */
function resolve(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

/** Pure: the lockfile keys (node_modules/…) of `roots` and everything they need at run time. */
export function runtimeClosure(lock: Lockfile, roots: readonly string[]): Set<string> {
  if (lock.lockfileVersion < 2)
    throw new Error('package-lock.json must be lockfileVersion 2 or 3 (npm >= 7)');
  const keep = new Set<string>();
  const queue: string[] = [];
  const add = (from: string, name: string, optional: boolean) => {
    const key = resolve(lock, from, name);
    if (!key) {
      if (optional) return;
      throw new Error(
        `package-lock.json has no ${name} reachable from ${from || 'the root'}; run npm install`,
      );
    }
    if (!keep.has(key)) {
      keep.add(key);
      queue.push(key);
    }
  };
  for (const root of roots) add('', root, false);
  while (queue.length > 0) {
    const key = queue.shift() as string;
    const pkg = lock.packages[key] ?? {};
    for (const name of Object.keys(pkg.dependencies ?? {})) add(key, name, false);
    for (const name of Object.keys(pkg.optionalDependencies ?? {})) add(key, name, true);
    for (const name of Object.keys(pkg.peerDependencies ?? {})) {
      add(key, name, pkg.peerDependenciesMeta?.[name]?.optional === true);
    }
  }
  return keep;
}
