// The link profile as the cluster holds it: ConfigMap `link-profile` in mec-testbed-system, key `profile.yaml`,
// the LinkProfileDocument as YAML. Pure: turning a preset or a file's text into that ConfigMap, after the
// topology model has validated it (an invalid profile never reaches the cluster).
import type { V1ConfigMap } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { PROFILE_CONFIGMAP } from '../kube/profile.ts';
import {
  DEFAULT_PRESET,
  type LinkProfileDocument,
  PRESETS,
  parseProfileText,
  type Topology,
} from '../topology/index.ts';

export { PROFILE_CONFIGMAP } from '../kube/profile.ts';

/** Annotation naming the profile on the ConfigMap, so `kubectl get cm -o yaml` and the CLI show it at a glance. */
export const PROFILE_NAME_ANNOTATION = 'mec-testbed.dev/profile';

/** A validated profile, ready to be stored: the text users wrote (or the preset rendered) and its topology. */
export interface PreparedProfile {
  name: string;
  source: string;
  text: string;
  topology: Topology;
}

const GENERATED_HEADER = (source: string) =>
  `# Generated from ${source} by \`make generate\`; do not edit.\n` +
  '# Switch profiles at run time with `make profile PROFILE=<preset|file>`.\n';

/** A preset document as YAML, with a header saying where it came from. */
export function presetYaml(name: string, doc: LinkProfileDocument): string {
  return (
    GENERATED_HEADER(`the preset "${name}" in services/topology/presets.ts`) +
    stringify(doc, { lineWidth: 0 })
  );
}

/** The committed k8s/base/link-profile/profile.yaml: the default preset. */
export function defaultProfileYaml(): string {
  const doc = PRESETS[DEFAULT_PRESET];
  if (!doc)
    throw new Error(`the default preset "${DEFAULT_PRESET}" is missing from services/topology/presets.ts`);
  return presetYaml(DEFAULT_PRESET, doc);
}

/**
 * A preset name or a file's text, validated by the topology model. Throws ProfileError (every problem, with
 * where it is and what is allowed) when it is not a valid profile.
 */
export function prepareProfile(nameOrPath: string, readText: (path: string) => string): PreparedProfile {
  const preset = PRESETS[nameOrPath];
  const text = preset ? presetYaml(nameOrPath, preset) : readText(nameOrPath);
  const source = preset ? `preset ${nameOrPath}` : nameOrPath;
  const topology = parseProfileText(text, source);
  return { name: topology.name, source, text, topology };
}

/** The ConfigMap to server-side apply for a prepared profile. */
export function profileConfigMap(profile: PreparedProfile): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: PROFILE_CONFIGMAP.name,
      namespace: PROFILE_CONFIGMAP.namespace,
      labels: { 'app.kubernetes.io/part-of': 'mec-testbed', 'app.kubernetes.io/component': 'emulation' },
      annotations: { [PROFILE_NAME_ANNOTATION]: profile.name },
    },
    data: { [PROFILE_CONFIGMAP.key]: profile.text },
  };
}

/** The profile a ConfigMap holds, or why it holds none that is valid. */
export function profileInConfigMap(
  cm: V1ConfigMap | undefined,
): { ok: true; topology: Topology } | { ok: false; message: string } {
  const text = cm?.data?.[PROFILE_CONFIGMAP.key];
  if (text === undefined)
    return {
      ok: false,
      message: `ConfigMap ${PROFILE_CONFIGMAP.namespace}/${PROFILE_CONFIGMAP.name} has no key ${PROFILE_CONFIGMAP.key}`,
    };
  try {
    return { ok: true, topology: parseProfileText(text, `ConfigMap ${PROFILE_CONFIGMAP.name}`) };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}
