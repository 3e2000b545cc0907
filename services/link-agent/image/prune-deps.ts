// Keeps in <dir>/node_modules only the lockfile closure of what the link agent imports at run time (the repo's
// package.json also lists tools and other components' libraries).
//   node services/link-agent/image/prune-deps.ts <dir>
import { pruneNodeModules } from '../../../hack/images/prune-node-modules.ts';

export const AGENT_RUNTIME_DEPENDENCIES = ['@kubernetes/client-node', 'prom-client', 'yaml'] as const;

if (import.meta.main) {
  const { kept, removed } = pruneNodeModules(process.argv[2] ?? '.', AGENT_RUNTIME_DEPENDENCIES);
  process.stdout.write(`kept ${kept} runtime packages of the link agent, removed ${removed}\n`);
}
