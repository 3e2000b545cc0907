// Rendering the kustomize overlays for tests (and for anyone who wants the YAML): `kubectl kustomize` with the
// load restrictor off (the base reads versions.env at the repository root). Prefers the pinned kubectl that
// hack/kube/build.sh builds (same kustomize as the cluster's kubectl), else a kubectl on PATH.
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { kubeBinDir } from '../test/support/kube.ts';
import type { Requirement } from '../test/support/requirements.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Every overlay users can apply; each must render and pass the policy. */
export const OVERLAYS = ['kind', 'kind-proxy', 'cluster'] as const;

/** Any object as parsed from YAML: what the policy reads. */
// biome-ignore lint/suspicious/noExplicitAny: rendered manifests are free-form YAML; the policy checks shapes.
export type Manifest = KubernetesObject & Record<string, any>;

export function kubectlPath(): string | undefined {
  const pinned = join(kubeBinDir(), 'kubectl');
  try {
    accessSync(pinned, constants.X_OK);
    return pinned;
  } catch {}
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 10_000 });
    return 'kubectl';
  } catch {
    return undefined;
  }
}

export const kustomize: Requirement = () =>
  kubectlPath() ? undefined : 'kubectl (for `kubectl kustomize`): run `make kube-build`, or install kubectl';

export function renderText(overlayDir: string): string {
  const kubectl = kubectlPath();
  if (!kubectl) throw new Error('no kubectl to render with: run `make kube-build`');
  return execFileSync(kubectl, ['kustomize', '--load-restrictor', 'LoadRestrictionsNone', overlayDir], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    maxBuffer: 32 * 1024 * 1024,
  });
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Manifest | null)
    .filter((o): o is Manifest => o !== null && typeof o === 'object');
}

export function renderOverlay(name: string): Manifest[] {
  return parseManifests(renderText(join(REPO_ROOT, 'k8s/overlays', name)));
}
