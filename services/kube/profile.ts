// The link profile as the cluster holds it: one ConfigMap, written by the CLI (`make profile`), watched by the
// link agents and the link proxies through the API.
import type { V1ConfigMap } from '@kubernetes/client-node';

export const PROFILE_CONFIGMAP = Object.freeze({
  name: 'link-profile',
  namespace: 'mec-testbed-system',
  key: 'profile.yaml',
});

/** The profile's text in a ConfigMap, or why there is none. Pure. */
export function profileText(
  cm: V1ConfigMap | undefined,
  key: string = PROFILE_CONFIGMAP.key,
): { ok: true; text: string } | { ok: false; why: string } {
  if (!cm) return { ok: false, why: 'the ConfigMap does not exist' };
  const text = cm.data?.[key];
  return text === undefined ? { ok: false, why: `the ConfigMap has no key ${key}` } : { ok: true, text };
}
