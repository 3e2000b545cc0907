// From a condition to what a run applies: the profile document (a preset or a file, with the condition's profile
// paths written into it), validated by the topology model into a Topology. A condition whose profile the model
// refuses is reported at the level that made it, before anything runs.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import {
  type LinkProfileDocument,
  PRESET_NAMES,
  PRESETS,
  type Topology,
  validateProfile,
} from '../topology/index.ts';
import { conditionsOf, type PlannedCondition } from './design.ts';
import {
  type ExperimentSpec,
  PROFILE_PATH,
  type RunSettings,
  runSettings,
  type SettingValue,
} from './spec.ts';
import { isRecord, type Segment, SpecError, type SpecProblem } from './validate.ts';

export interface ResolvedCondition extends PlannedCondition {
  settings: RunSettings;
  /** The profile document the run applies (what the proxy is sent, what the kind testbed is switched to). */
  profileDocument: LinkProfileDocument;
  topology: Topology;
}

/** A profile document with `path = value` written in (a copy; the base is never changed). Pure. */
export function withOverrides(
  base: LinkProfileDocument,
  overrides: ReadonlyArray<{ path: string; value: SettingValue }>,
): LinkProfileDocument {
  const doc = structuredClone(base) as unknown as Record<string, unknown>;
  for (const { path: p, value } of overrides) {
    const keys = p.split('.');
    if (keys[0] === 'sites' && Array.isArray(doc.sites))
      doc.sites = Object.fromEntries((doc.sites as string[]).map((s) => [s, {}]));
    let at = doc;
    for (const key of keys.slice(0, -1)) {
      if (!isRecord(at[key])) at[key] = {};
      at = at[key] as Record<string, unknown>;
    }
    at[keys.at(-1) as string] = value;
  }
  if (overrides.length > 0) {
    const said = overrides.map((o) => `${o.path}=${o.value}`).join(', ');
    doc.description = `${(doc.description as string | undefined) ?? ''}${doc.description ? '; ' : ''}experiment: ${said}`;
  }
  return doc as unknown as LinkProfileDocument;
}

/** A preset's document, or a YAML/JSON file's (relative to the spec's folder). */
export async function profileDocument(nameOrFile: string, specDir: string): Promise<LinkProfileDocument> {
  const preset = PRESETS[nameOrFile];
  if (preset) return preset;
  if (!/[./]/.test(nameOrFile))
    throw new Error(`"${nameOrFile}" is neither a preset (${PRESET_NAMES.join(', ')}) nor a file path`);
  const file = path.resolve(specDir, nameOrFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`profile file ${file} cannot be read: ${(err as Error).message}`);
  }
  try {
    return parse(text, { uniqueKeys: true }) as LinkProfileDocument;
  } catch (err) {
    throw new Error(`profile file ${file} is not valid YAML: ${(err as Error).message}`);
  }
}

/** Where a condition's setting was written: its factor level, its listed condition, or `fixed`. */
function whereSet(spec: ExperimentSpec, condition: PlannedCondition, key: string): Segment[] {
  if (spec.conditions)
    return key in (spec.conditions[condition.index] ?? {})
      ? ['conditions', condition.index, key]
      : ['fixed', key];
  const factor = spec.factors.find((f) => f.name === key);
  if (factor) return ['factors', key, factor.levels.indexOf(condition.values[key] as SettingValue)];
  return key in spec.fixed ? ['fixed', key] : ['profile'];
}

/** Every condition with its profile applied and validated; throws a SpecError listing every bad condition. */
export async function resolveConditions(spec: ExperimentSpec, specDir: string): Promise<ResolvedCondition[]> {
  const problems: SpecProblem[] = [];
  const resolved: ResolvedCondition[] = [];
  const bases = new Map<string, LinkProfileDocument | Error>();
  for (const condition of conditionsOf(spec)) {
    const settings = runSettings(spec, condition.values);
    if (!bases.has(settings.profile))
      bases.set(settings.profile, await profileDocument(settings.profile, specDir).catch((e: Error) => e));
    const base = bases.get(settings.profile) as LinkProfileDocument | Error;
    if (base instanceof Error) {
      problems.push({ at: whereSet(spec, condition, 'profile'), message: base.message });
      continue;
    }
    const document = withOverrides(base, settings.overrides);
    const result = validateProfile(document);
    if (!result.ok) {
      // Blame a level this condition varies when one is a profile path, else what every condition shares.
      const varied = settings.overrides.map((o) => o.path).find((p) => p in condition.values);
      const key =
        varied ?? settings.overrides.map((o) => o.path).find((p) => PROFILE_PATH.test(p)) ?? 'profile';
      const at = whereSet(
        spec,
        condition,
        varied ? key : condition.values.profile !== undefined ? 'profile' : key,
      );
      const which = varied || condition.values.profile !== undefined ? ` with ${condition.label}` : '';
      for (const p of result.problems)
        problems.push({
          at,
          message: `makes an invalid profile${which}: ${p.path || '(document)'}: ${p.message}`,
        });
      continue;
    }
    resolved.push({ ...condition, settings, profileDocument: document, topology: result.topology });
  }
  if (problems.length > 0) throw new SpecError(spec.name, dedupe(problems));
  return resolved;
}

function dedupe(problems: SpecProblem[]): SpecProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.at.join('/')}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
