// Located problems: for a document a user wrote (a link profile, an experiment spec), every problem with where
// it is, what is wrong and what is allowed. The zod schemas give their issues here to be turned into the
// messages users read; nothing quoted from the input is longer than QUOTE_LIMIT, and no answer lists more
// than PROBLEM_LIMIT problems, so a hostile document cannot make the answer larger than itself.
import type * as z from 'zod';

export interface Problem {
  /** Where in the document, e.g. `links.ue-edge.latency` (empty: the document as a whole). */
  path: string;
  message: string;
}

/** How many characters of a user's value a message quotes. */
export const QUOTE_LIMIT = 40;
/** How many problems an answer lists; the rest are counted. */
export const PROBLEM_LIMIT = 20;

/** A value as JSON, cut to `limit` characters; safe for anything (cycles, bigints, functions). */
export function quote(value: unknown, limit = QUOTE_LIMIT): string {
  let text: string;
  if (value === undefined) text = 'undefined';
  else if (typeof value === 'number' && !Number.isFinite(value)) text = String(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Array.isArray(value) ? '[…]' : typeof value === 'object' ? '{…}' : String(value);
    }
  }
  return clip(text, limit);
}

/** A text cut to `limit` characters, marked with `…` when cut. */
export function clip(text: string, limit = QUOTE_LIMIT): string {
  return text.length > limit ? `${text.slice(0, limit - 1)}…` : text;
}

/** A path as users read it: `links.ue-edge.latency`, `sources.2`; each key clipped. */
export function pathText(path: readonly PropertyKey[]): string {
  return path.map((k) => clip(String(k))).join('.');
}

/**
 * The problems in zod's issues. An unknown key is reported at its own path; a value that matches none of a
 * union's shapes is reported by the shape of its type (a string loss by the string rules); an invalid key of
 * a record by its own message.
 */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []) {
  const out: Problem[] = [];
  for (const issue of issues) {
    const at = [...prefix, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: pathText([...at, key]), message: issue.message });
    } else if (issue.code === 'invalid_key') {
      for (const inner of issue.issues) out.push({ path: pathText(at), message: inner.message });
    } else if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      // The branches whose type matched (their issues are not a type mismatch of the value itself).
      const matched = issue.errors.filter(
        (branch) => !branch.some((i) => i.path.length === 0 && i.code === 'invalid_type'),
      );
      if (matched.length === 1 && matched[0]) out.push(...problemsFromIssues(matched[0], at));
      else out.push({ path: pathText(at), message: issue.message });
    } else out.push({ path: pathText(at), message: issue.message });
  }
  return out;
}

/**
 * A document checked against a zod schema: its parsed value, or every problem located. What a profile's
 * validator does first, for any other kind of document (an experiment spec) to do the same.
 */
export function checkedBy<Schema extends z.ZodType>(
  schema: Schema,
  doc: unknown,
): { ok: true; value: z.output<Schema> } | { ok: false; problems: Problem[] } {
  const parsed = schema.safeParse(doc);
  if (parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, problems: finishProblems(problemsFromIssues(parsed.error.issues)) };
}

/** Each problem once, at most PROBLEM_LIMIT of them, the rest counted in a last line. */
export function finishProblems(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.path}\n${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  if (unique.length <= PROBLEM_LIMIT) return unique;
  const more = unique.length - (PROBLEM_LIMIT - 1);
  return [
    ...unique.slice(0, PROBLEM_LIMIT - 1),
    { path: '', message: `${MORE} ${more} more problems; fix these first` },
  ];
}

const MORE = 'and';
/** How many problems a finished list stands for, the ones it only counts included. */
function problemCount(problems: readonly Problem[]): number {
  const last = problems.at(-1);
  const counted = last?.path === '' ? new RegExp(`^${MORE} (\\d+) more problems`).exec(last.message) : null;
  return counted ? problems.length - 1 + Number(counted[1]) : problems.length;
}

/** The problems as users read them, one a line, each naming the document (a file, a preset, a ConfigMap). */
export function formatProblems(source: string, problems: readonly Problem[], what = 'link profile'): string {
  const lines = problems.map((p) => `  ${clip(source, 200)}: ${p.path || '(document)'}: ${p.message}`);
  const count = problemCount(problems);
  return `invalid ${what} (${count} problem${count === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** A document that is not valid: its source and every problem, located. */
export class DocumentError extends Error {
  readonly problems: Problem[];
  readonly source: string;
  constructor(what: string, source: string, problems: Problem[]) {
    super(formatProblems(source, problems, what));
    this.name = 'DocumentError';
    this.source = source;
    this.problems = problems;
  }
}
