// The CPU limit of each service from its site's cores (services/topology: siteCompute), and the same cores as
// SITE_CORES (the size of its inspect worker pool, which a CPU limit alone does not set), as a kustomize patch:
// k8s/base/site-compute.yaml is this for the default profile (`make generate`), so the manifests hold no core
// count of their own. The same objects serve as a server-side apply patch for a profile switched at run time.
import { stringify } from 'yaml';
import { siteCompute, siteProcessEnv, type Topology } from '../services/topology/index.ts';

/** The services that run at a site, by Deployment (and container) name: one per site today. */
export const SITE_SERVICES: Readonly<Record<string, string>> = Object.freeze({
  edge: 'edge',
  cloud: 'cloud',
});

/** A partial Deployment per service setting its container's CPU limit and its site's process environment. */
export function siteComputePatches(topology: Topology, namespace = 'mec-testbed') {
  return Object.entries(SITE_SERVICES).map(([site, name]) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      template: {
        spec: {
          containers: [
            {
              name,
              env: Object.entries(siteProcessEnv(topology, site)).map(([name, value]) => ({ name, value })),
              resources: { limits: { cpu: siteCompute(topology, site).cpuLimit } },
            },
          ],
        },
      },
    },
  }));
}

/** The patch file's text, with a header saying where it comes from. */
export function siteComputeYaml(topology: Topology, source: string): string {
  const header = `# Generated from ${source} (its sites' cores) by \`make generate\`; do not edit.\n`;
  return (
    header +
    siteComputePatches(topology)
      .map((p) => stringify(p))
      .join('---\n')
  );
}
