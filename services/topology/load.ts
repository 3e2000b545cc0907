// Reading a profile by preset name or from a YAML/JSON file. The only effectful part of the model.
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import type { Topology } from './model.ts';
import { DEFAULT_PRESET, PRESET_NAMES, PRESETS } from './presets.ts';
import { ProfileError, topologyFrom } from './validate.ts';

/** A preset name (`5g-mec`) or a path to a YAML or JSON file. */
export async function loadProfile(nameOrFile: string = DEFAULT_PRESET): Promise<Topology> {
  const preset = PRESETS[nameOrFile];
  if (preset) return topologyFrom(preset, `preset ${nameOrFile}`);
  if (!/[./]/.test(nameOrFile)) {
    throw new ProfileError(nameOrFile, [
      { path: '', message: `is neither a preset (${PRESET_NAMES.join(', ')}) nor a file path` },
    ]);
  }
  let text: string;
  try {
    text = await readFile(nameOrFile, 'utf8');
  } catch (err) {
    throw new ProfileError(nameOrFile, [{ path: '', message: `cannot be read: ${(err as Error).message}` }]);
  }
  return parseProfileText(text, nameOrFile);
}

/** Parses YAML (JSON is YAML) profile text; used for files, ConfigMaps and the proxy's admin API. */
export function parseProfileText(text: string, source: string): Topology {
  let doc: unknown;
  try {
    doc = parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ProfileError(source, [{ path: '', message: `is not valid YAML: ${(err as Error).message}` }]);
  }
  return topologyFrom(doc, source);
}
