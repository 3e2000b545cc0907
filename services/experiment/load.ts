// Reading an experiment: a built-in name (`smoke`: experiments/smoke.yaml) or a file, parsed, validated and every
// condition's profile resolved, with every problem located in the file. The only effectful part of the spec.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ResolvedCondition, resolveConditions } from './resolve.ts';
import type { ExperimentSpec } from './spec.ts';
import { parseSpecDocument, SpecError } from './validate.ts';

export const BUILTIN_DIR = fileURLToPath(new URL('../../experiments/', import.meta.url));

export async function builtinNames(): Promise<string[]> {
  return (await readdir(BUILTIN_DIR))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export interface LoadedExperiment {
  file: string;
  text: string;
  /** sha256 of the text: a resumed result set must have been made from the same spec. */
  hash: string;
  spec: ExperimentSpec;
  conditions: ResolvedCondition[];
}

export async function loadExperiment(nameOrFile: string): Promise<LoadedExperiment> {
  const builtin = /^[a-z0-9-]+$/.test(nameOrFile);
  const file = builtin ? path.join(BUILTIN_DIR, `${nameOrFile}.yaml`) : path.resolve(nameOrFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    const names = await builtinNames();
    throw new SpecError(nameOrFile, [
      {
        at: [],
        message: builtin
          ? `is not a built-in experiment (${names.join(', ')}) nor a file: give a path to a spec file`
          : `cannot be read (${file}); built-in experiments: ${names.join(', ')}`,
      },
    ]);
  }
  const relative = path.relative(process.cwd(), file);
  const source = relative && !relative.startsWith('..') ? relative : file;
  const { spec, locate } = parseSpecDocument(text, source);
  let conditions: ResolvedCondition[];
  try {
    conditions = await resolveConditions(spec, path.dirname(file));
  } catch (err) {
    if (err instanceof SpecError) throw new SpecError(source, locate(err.problems));
    throw err;
  }
  return { file, text, hash: createHash('sha256').update(text).digest('hex'), spec, conditions };
}
