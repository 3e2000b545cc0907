// Keeps in <dir>/node_modules only the lockfile closure of what the link agent imports at run time (the repo's
// package.json also lists tools and other components' libraries).
//   node services/link-agent/image/prune-deps.ts <dir>
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type Lockfile, runtimeClosure } from '../../../hack/images/runtime-deps.ts';

export const AGENT_RUNTIME_DEPENDENCIES = ['@kubernetes/client-node', 'prom-client', 'yaml'] as const;

const dir = process.argv[2] ?? '.';
const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')) as Lockfile;
const keep = runtimeClosure(lock, AGENT_RUNTIME_DEPENDENCIES);
let removed = 0;
for (const key of Object.keys(lock.packages)) {
  if (key === '' || !key.startsWith('node_modules/') || keep.has(key)) continue;
  const path = join(dir, key);
  if (!existsSync(path)) continue;
  rmSync(path, { recursive: true, force: true });
  removed++;
}
rmSync(join(dir, 'node_modules/.package-lock.json'), { force: true });
rmSync(join(dir, 'node_modules/.bin'), { recursive: true, force: true });
process.stdout.write(`kept ${keep.size} runtime packages of the link agent, removed ${removed}\n`);
