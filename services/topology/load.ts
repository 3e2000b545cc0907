// Reading a profile by preset name or from a YAML/JSON file. The only effectful part of the model.
import { open } from 'node:fs/promises';
import { PROFILE_YAML_LIMITS, parseBoundedYaml } from './bounded-yaml.ts';
import { clip } from './located.ts';
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
    text = await readProfileFile(nameOrFile);
  } catch (err) {
    throw new ProfileError(nameOrFile, [
      { path: '', message: `cannot be read: ${clip((err as Error).message, 200)}` },
    ]);
  }
  return parseProfileText(text, nameOrFile);
}

/**
 * Parses YAML (JSON is YAML) profile text, its cost bounded (bounded-yaml.ts: PROFILE_YAML_LIMITS); the one
 * parser for files, the ConfigMap the agents and proxies watch, and the proxy's admin API.
 */
export function parseProfileText(text: string, source: string): Topology {
  const read = parseBoundedYaml(text);
  if (!read.ok) throw new ProfileError(source, read.problems);
  return topologyFrom(read.value, source);
}

/**
 * A profile file's text, reading at most one byte past the parser's size bound (which then refuses it), so a
 * huge or endless file costs no more than a real one. For anything that re-reads a profile file.
 */
export async function readProfileFile(file: string, limit = PROFILE_YAML_LIMITS.maxBytes): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(limit + 1);
    let filled = 0;
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled).toString('utf8');
  } finally {
    await handle.close();
  }
}
