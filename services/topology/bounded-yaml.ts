// YAML (and JSON, which is YAML) read with its cost bounded before and while it is parsed. Profiles reach the
// link proxy's admin API, which shares its event loop with the traffic it delays, and the ConfigMap every
// link agent watches, so no document may cost much more than a real one: the yaml library spends time
// quadratic in nesting depth and in the keys of a mapping, and aliases can expand a small text a
// thousand-fold. Each bound below is far above what a real profile or experiment spec needs.
import { CST, type Document, isAlias, isMap, isScalar, isSeq, Lexer, parseDocument } from 'yaml';
import { clip, type Problem } from './located.ts';

export interface YamlLimits {
  /** Size of the text in UTF-8 bytes. */
  maxBytes: number;
  /** Lexical tokens (a key, a value, an indicator, a blank run): bounds the parser's work. */
  maxTokens: number;
  /** Collections inside collections, aliases followed. */
  maxDepth: number;
  /** Alias uses (`*name`). */
  maxAliases: number;
  /** Values in the document as read, every alias expanded. */
  maxValues: number;
}

/**
 * A preset is at most 1.3 KiB and 200 tokens, nests 5 deep and needs no alias; each bound is about ten times
 * what a real profile needs, and parsing anything they let through takes milliseconds.
 */
export const PROFILE_YAML_LIMITS: Readonly<YamlLimits> = Object.freeze({
  maxBytes: 16 * 1024,
  maxTokens: 2000,
  maxDepth: 12,
  maxAliases: 64,
  maxValues: 1000,
});

export type YamlResult = { ok: true; value: unknown } | { ok: false; problems: Problem[] };

/** One YAML document as plain data, or why it is not one (located where the fault has a place). */
export function parseBoundedYaml(
  text: string,
  limits: Readonly<YamlLimits> = PROFILE_YAML_LIMITS,
): YamlResult {
  const refuse = (message: string, path = ''): YamlResult => ({ ok: false, problems: [{ path, message }] });
  // A string's length never exceeds its UTF-8 size, so a long text is refused without being measured.
  const bytes = text.length > limits.maxBytes ? text.length : Buffer.byteLength(text);
  if (bytes > limits.maxBytes)
    return refuse(`is over ${formatBytes(limits.maxBytes)} (at least ${bytes} bytes)`);

  // The lexer is linear; the parser is not. Count what the parser would have to build first.
  let tokens = 0;
  let flowDepth = 0;
  let aliases = 0;
  for (const token of new Lexer().lex(text)) {
    if (++tokens > limits.maxTokens) return refuse(`has over ${limits.maxTokens} tokens`);
    const type = CST.tokenType(token);
    if (type === 'flow-map-start' || type === 'flow-seq-start') {
      if (++flowDepth > limits.maxDepth) return refuse(`nests deeper than ${limits.maxDepth} levels`);
    } else if (type === 'flow-map-end' || type === 'flow-seq-end') flowDepth--;
    else if (type === 'alias' && ++aliases > limits.maxAliases)
      return refuse(`uses over ${limits.maxAliases} aliases (*name)`);
  }

  // Duplicate keys are found below in one pass: the library's own check is quadratic in a mapping's keys.
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    const more = doc.errors.length > 1 ? ` (and ${doc.errors.length - 1} more YAML errors)` : '';
    return refuse(`is not valid YAML: ${clip(error.message, 400)}${more}`);
  }
  const structure = checkStructure(doc, limits);
  if (structure) return { ok: false, problems: [structure] };
  try {
    return { ok: true, value: doc.toJS({ maxAliasCount: limits.maxAliases }) };
  } catch (err) {
    return refuse(`could not be read: ${clip((err as Error).message, 200)}`);
  }
}

/**
 * Walks the parsed document without recursion: depth (aliases followed, so an alias inside its own anchor is
 * caught as too deep), the values read with every alias expanded, keys that are not plain scalars, keys
 * written twice. The first fault found, located.
 */
function checkStructure(doc: Document, limits: Readonly<YamlLimits>): Problem | undefined {
  const stack: Array<{ node: unknown; depth: number; path: string[] }> = [
    { node: doc.contents, depth: 0, path: [] },
  ];
  let values = 0;
  const at = (path: string[]) => path.map((k) => clip(k)).join('.');
  while (stack.length > 0) {
    const { node, depth, path } = stack.pop() as (typeof stack)[number];
    if (++values > limits.maxValues)
      return {
        path: '',
        message: `holds over ${limits.maxValues} values (aliases expanded)`,
      };
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) return { path: at(path), message: `uses an alias to no anchor (${clip(node.source)})` };
      stack.push({ node: target, depth, path });
      continue;
    }
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth + 1 > limits.maxDepth)
      return {
        path: at(path),
        message: `nests deeper than ${limits.maxDepth} levels (or an alias refers to its own anchor)`,
      };
    if (isSeq(node)) {
      node.items.forEach((item, i) => {
        stack.push({ node: item, depth: depth + 1, path: [...path, String(i)] });
      });
      continue;
    }
    const keys = new Set<string>();
    for (const pair of node.items) {
      if (!isScalar(pair.key) || typeof pair.key.value === 'object')
        return { path: at(path), message: 'has a key that is not a plain name (a mapping or list as a key)' };
      const key = String(pair.key.value);
      if (keys.has(key)) return { path: at([...path, key]), message: 'is written twice; keep one' };
      keys.add(key);
      stack.push({ node: pair.value, depth: depth + 1, path: [...path, key] });
    }
  }
  return undefined;
}

function formatBytes(n: number): string {
  return n >= 1024 ? `${Math.round((n / 1024) * 10) / 10} KiB` : `${n} bytes`;
}
