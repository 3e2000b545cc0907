// Run in an image's deps stage after `npm ci --omit=dev`: remove every installed package that is not in the
// lockfile closure of the given runtime dependencies, so the image carries what it imports and nothing else.
//   node hack/images/prune-node-modules.ts [dir] [dependency ...]
// dir holds package-lock.json and node_modules; the dependencies default to the services' RUNTIME_DEPENDENCIES.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Lockfile, RUNTIME_DEPENDENCIES, runtimeClosure } from './runtime-deps.ts';

/** Removes from dir/node_modules what `dependencies` do not need; returns how many were kept and removed. */
export function pruneNodeModules(
  dir: string,
  dependencies: readonly string[],
): { kept: number; removed: number } {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as Lockfile;
  const keep = runtimeClosure(lock, dependencies);
  let removed = 0;
  // Removing a parent removes its nested copies too; skip what is already gone.
  for (const key of Object.keys(lock.packages)) {
    if (key === '' || !key.startsWith('node_modules/') || keep.has(key)) continue;
    const path = join(dir, key);
    if (!existsSync(path)) continue;
    rmSync(path, { recursive: true, force: true });
    removed++;
  }
  // npm's hidden lockfile would now describe packages that are gone.
  rmSync(join(dir, 'node_modules/.package-lock.json'), { force: true });
  rmSync(join(dir, 'node_modules/.bin'), { recursive: true, force: true });
  return { kept: keep.size, removed };
}

if (import.meta.main) {
  const [dir = '.', ...named] = process.argv.slice(2);
  const dependencies = named.length > 0 ? named : RUNTIME_DEPENDENCIES;
  const { kept, removed } = pruneNodeModules(dir, dependencies);
  process.stdout.write(
    `kept ${kept} runtime packages (${dependencies.join(', ')} and their dependencies), removed ${removed}\n`,
  );
}
