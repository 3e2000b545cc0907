// Run in the image's deps stage after `npm ci --omit=dev`: remove every installed package that is not in the
// lockfile closure of RUNTIME_DEPENDENCIES, so the image carries what the services import and nothing else.
//   node hack/images/prune-node-modules.ts [dir]    (dir holds package-lock.json and node_modules)
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Lockfile, RUNTIME_DEPENDENCIES, runtimeClosure } from './runtime-deps.ts';

const dir = process.argv[2] ?? '.';
const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as Lockfile;
const keep = runtimeClosure(lock, RUNTIME_DEPENDENCIES);
let removed = 0;
// Longest keys first is not needed (removing a parent removes its nested copies); skip what is already gone.
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
process.stdout.write(
  `kept ${keep.size} runtime packages (${RUNTIME_DEPENDENCIES.join(', ')} and their dependencies), removed ${removed}\n`,
);
