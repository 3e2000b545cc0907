// Property-based fuzzing for every parser that reads outside input (profiles, experiment specs, query strings,
// images), on fast-check. Each run has a fixed seed (FUZZ_SEED, printed with every failure, so a failure
// replays exactly) and a time budget (FUZZ_BUDGET_SCALE multiplies every budget for a longer local hunt: 10 for
// ten times as long); it must complete a minimum number of cases, so a budget the machine cannot meet fails
// instead of passing on nothing. The generators below are the inputs that broke parsers elsewhere: numbers
// at and past the edge of what a double holds, absurd precision, units that almost parse, deep and aliased
// YAML, huge keys, control characters.
//
//   const { runs } = await fuzz('profile text', arbitrary, (text) => { ... }, { budgetMs: 3000, minRuns: 50 });
import fc from 'fast-check';

export { fc };

/** The seed of every fuzz run; change it with FUZZ_SEED=N to explore other cases. */
export const FUZZ_SEED = parseSeed(process.env.FUZZ_SEED);
const BUDGET_SCALE = parseScale(process.env.FUZZ_BUDGET_SCALE);

function parseSeed(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 20261202;
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) throw new Error(`FUZZ_SEED must be a whole number, got ${raw}`);
  return value;
}

function parseScale(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const value = Number(raw);
  if (!(value > 0 && value <= 1000))
    throw new Error(`FUZZ_BUDGET_SCALE must be a number from 0 to 1000, got ${raw}`);
  return value;
}

export interface FuzzOptions {
  /** Wall-clock budget of the whole run (generation, checks and shrinking a failure), before scaling. */
  budgetMs: number;
  /** Fewer completed cases than this fails the run: the budget did not buy a meaningful sample. */
  minRuns: number;
  /** Stop after this many cases even with budget left. */
  maxRuns?: number;
  /** A single case slower than this fails (asynchronous checks only: fast-check cannot stop a sync one). */
  caseTimeoutMs?: number;
}

export interface FuzzSummary {
  runs: number;
  seed: number;
  elapsedMs: number;
}

/**
 * Checks `predicate` on cases drawn from `arbitrary` until the budget or maxRuns is reached. The predicate
 * throws (an assertion) or returns false to fail; the failure is shrunk to a small case and reported with the
 * seed and path to replay it.
 */
export async function fuzz<T>(
  name: string,
  arbitrary: fc.Arbitrary<T>,
  predicate: (value: T) => unknown,
  options: FuzzOptions,
): Promise<FuzzSummary> {
  const budget = options.budgetMs * BUDGET_SCALE;
  const started = performance.now();
  const plugins = [fc.interruptAfterTimeLimit(budget)];
  if (options.caseTimeoutMs !== undefined) plugins.push(fc.timeout(options.caseTimeoutMs));
  const details = await fc.check(
    fc.asyncProperty(arbitrary, async (value) => {
      const result = await predicate(value);
      return result !== false;
    }),
    {
      seed: FUZZ_SEED,
      numRuns: options.maxRuns ?? 1_000_000,
      plugins,
    },
  );
  const elapsedMs = performance.now() - started;
  // Running out of budget is not a failure (the plugin ends the run quietly); a counterexample is.
  if (details.failed) {
    throw new Error(`fuzz ${name}: ${clip(fc.defaultReportMessage(details))}`, {
      cause: details.errorInstance,
    });
  }
  if (details.numRuns < options.minRuns) {
    throw new Error(
      `fuzz ${name}: only ${details.numRuns} cases in ${Math.round(elapsedMs)} ms (at least ${options.minRuns} wanted; seed ${FUZZ_SEED}): the budget is too small for this machine or a case is far too slow`,
    );
  }
  return { runs: details.numRuns, seed: FUZZ_SEED, elapsedMs };
}

export interface ParserFuzz<T, R> {
  name: string;
  /** Inputs: text for a text parser (hostileYaml(), mutated(valid), a document generator stringified…). */
  inputs: fc.Arbitrary<T>;
  parse: (input: T) => R;
  /** The error the parser throws to refuse an input (anything else thrown fails the run). */
  refusal: abstract new (
    ...args: never[]
  ) => Error;
  /** Checks an accepted result: its numbers finite and in their documented ranges, and so on. */
  accepted: (result: R, input: T) => void;
  /** A refusal's message may quote the input but stay under this (UTF-8 bytes). */
  maxMessageBytes: number;
  budgetMs: number;
  minRuns: number;
  maxRuns?: number;
}

/**
 * The property every parser of outside input must have: each input is accepted with a sane result or refused
 * with the parser's own error and a bounded message; nothing else is thrown. (Its time is bounded by the run's
 * budget: a parse that hangs leaves too few cases.) For the profile parser, the experiment spec's, any other.
 */
export async function fuzzParser<T, R>(spec: ParserFuzz<T, R>): Promise<FuzzSummary> {
  return fuzz(
    spec.name,
    spec.inputs,
    (input) => {
      let result: R;
      try {
        result = spec.parse(input);
      } catch (err) {
        if (!(err instanceof spec.refusal)) {
          const e = err as Error | undefined;
          throw new Error(
            `threw ${e?.name ?? typeof err}, not a refusal: ${clip(String(e?.message ?? err))}`,
          );
        }
        const bytes = Buffer.byteLength(err.message);
        if (bytes > spec.maxMessageBytes)
          throw new Error(`a refusal of ${bytes} bytes (at most ${spec.maxMessageBytes})`);
        return;
      }
      spec.accepted(result, input);
    },
    { budgetMs: spec.budgetMs, minRuns: spec.minRuns, ...(spec.maxRuns ? { maxRuns: spec.maxRuns } : {}) },
  );
}

/** A report keeps its shape but not megabytes of a generated input: each line at most 2,000 characters. */
function clip(report: string): string {
  return report
    .split('\n')
    .map((line) => (line.length > 2000 ? `${line.slice(0, 2000)}… (${line.length} characters)` : line))
    .join('\n');
}

// --- generators --------------------------------------------------------------------------------------------

/** Any code point, lone surrogates included. (fast-check's own 'binary' unit takes seconds to set up.) */
const anyCodePoint = fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c));

/** Numbers written as text that a number parser must take or refuse cleanly. */
export function numberText(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      '0',
      '-0',
      '0.0',
      '00000000000000000001',
      '1e308',
      '1e309',
      '1e-400',
      '4.9e-324',
      '1.7976931348623157e308',
      '9007199254740993',
      '18446744073709551616',
      'NaN',
      'Infinity',
      '-Infinity',
      '0x10',
      '0b11',
      '1_000',
      '１',
      ' 1',
      '1 ',
      '+1',
      '.5',
      '5.',
      '',
    ),
    fc.double().map(String),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }).map(String),
    fc.nat().map(String),
    fc
      .tuple(fc.nat({ max: 400 }), fc.nat({ max: 400 }))
      .map(([whole, decimals]) => `${'9'.repeat(whole + 1)}.${'3'.repeat(decimals)}`),
    fc.tuple(fc.nat({ max: 30 }), fc.integer({ min: -400, max: 400 })).map(([m, e]) => `${m}e${e}`),
  );
}

/** A number in text followed by a unit that parses, almost parses, or does not. */
export function quantityText(units: readonly string[]): fc.Arbitrary<string> {
  return fc
    .tuple(
      numberText(),
      fc.constantFrom('', ' ', '\t'),
      fc.oneof(fc.constantFrom(...units), fc.string({ maxLength: 6 })),
    )
    .map(([n, gap, unit]) => `${n}${gap}${unit}`);
}

/** Text a hostile or careless user sends where a short string is expected. */
export function hostileString(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 64 }),
    fc.string({ unit: anyCodePoint, maxLength: 64 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      '../../etc/passwd',
      '%00',
      '\u0000',
      '\uFEFF',
      '\u202E',
    ),
    fc.nat({ max: 200_000 }).map((n) => 'x'.repeat(n)),
  );
}

/** Keys a mapping may carry: short, odd, or the names of Object.prototype's members. (Kept short: fast-check
 * checks a dictionary's keys for uniqueness, which is slow for long ones.) */
export function hostileKey(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ maxLength: 16 }),
    fc.string({ unit: anyCodePoint, maxLength: 8 }),
    fc.constantFrom(
      '__proto__',
      'constructor',
      'prototype',
      'toString',
      'hasOwnProperty',
      '',
      ' ',
      '.',
      'a.b',
      '<<',
    ),
  );
}

/** Any JSON-like value, with hostile strings and numbers among the leaves. */
export function hostileValue(depth = 3): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    hostileString(),
    numberText(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.integer(),
  );
  if (depth <= 0) return leaf;
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(hostileValue(depth - 1), { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.dictionary(hostileKey(), hostileValue(depth - 1), { maxKeys: 5 }) },
  );
}

/** YAML text built to cost a parser time or memory: nesting, alias expansion, many keys, long scalars. */
export function hostileYaml(): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat({ max: 20_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
    fc.nat({ max: 5_000 }).map((d) => `${'{a: '.repeat(d)}1${'}'.repeat(d)}`),
    fc.nat({ max: 2_000 }).map((d) => Array.from({ length: d }, (_, i) => `${' '.repeat(i)}k:`).join('\n')),
    // A "billion laughs": each level refers to the previous one ten times.
    fc.integer({ min: 1, max: 12 }).map((levels) => {
      const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
      for (let i = 1; i < levels; i++)
        lines.push(
          `a${i}: &a${i} [${Array(10)
            .fill(`*a${i - 1}`)
            .join(', ')}]`,
        );
      return lines.join('\n');
    }),
    fc.nat({ max: 100_000 }).map((n) => Array.from({ length: n }, (_, i) => `k${i}: ${i}`).join('\n')),
    fc.nat({ max: 1_000_000 }).map((n) => `name: ${'x'.repeat(n)}`),
    fc.nat({ max: 1_000 }).map((n) => Array(n).fill('---\na: 1').join('\n')),
    fc.constantFrom(
      'a: !!binary ZZZZ',
      'a: !!js/function "function(){}"',
      'a: !custom tag',
      '<<: *undefined',
      'a: &x 1\n<<: *x',
      '? [a, b]\n: c',
      'a: 1\na: 2',
      '%YAML 9.9\n---\na: 1',
      '"\\uD800"',
      '\t- tab',
      '*',
      '&',
    ),
  );
}

/** `doc` (a valid document as plain data) with a few of its values replaced by hostile ones, keys dropped or
 * unknown keys added: structure-aware cases that get past a parser's first checks. */
export function perturbed(doc: unknown): fc.Arbitrary<unknown> {
  const paths: (string | number)[][] = [];
  const walk = (node: unknown, at: (string | number)[]) => {
    paths.push(at);
    if (Array.isArray(node)) {
      for (const [i, v] of node.entries()) walk(v, [...at, i]);
    } else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) walk(v, [...at, k]);
    }
  };
  walk(doc, []);
  const edit = fc.tuple(
    fc.constantFrom(...paths.filter((p) => p.length > 0)),
    fc.constantFrom('replace', 'drop', 'add'),
    hostileValue(2),
    hostileKey(),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    const copy = structuredClone(doc) as Record<string | number, unknown>;
    for (const [at, kind, value, key] of edits) {
      let parent: Record<string | number, unknown> | undefined = copy;
      for (const s of at.slice(0, -1)) parent = parent?.[s] as Record<string | number, unknown> | undefined;
      if (!parent || typeof parent !== 'object') continue;
      const last = at.at(-1) as string | number;
      if (kind === 'replace') parent[last] = value;
      else if (kind === 'drop') delete parent[last];
      else if (!Array.isArray(parent)) parent[key] = value;
    }
    return copy;
  });
}

/** `valid` changed a few bytes at a time: truncated, cut, repeated, flipped. */
export function mutated(valid: string): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.constantFrom('cut', 'insert', 'replace', 'repeat', 'truncate'),
    fc.nat({ max: Math.max(0, valid.length) }),
    fc.nat({ max: 40 }),
    fc.string({ unit: anyCodePoint, maxLength: 12 }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let text = valid;
    for (const [kind, at, length, insert] of edits) {
      const i = Math.min(at, text.length);
      if (kind === 'cut') text = text.slice(0, i) + text.slice(i + length);
      else if (kind === 'insert') text = text.slice(0, i) + insert + text.slice(i);
      else if (kind === 'replace') text = text.slice(0, i) + insert + text.slice(i + insert.length);
      else if (kind === 'repeat')
        text = text.slice(0, i) + text.slice(i, i + length).repeat(1 + (length % 7)) + text.slice(i);
      else text = text.slice(0, i);
    }
    return text;
  });
}

/** Percent-encoding that cannot throw: a lone surrogate becomes U+FFFD (the raw escape of one is in the list of
 * odd values below). */
const encode = (text: string) => encodeURIComponent(text.toWellFormed());

/** A query string: known keys and random ones, hostile values, repeats, brackets, broken escapes. */
export function queryString(knownKeys: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...(knownKeys.length > 0 ? knownKeys : ['q'])) },
    { weight: 1, arbitrary: hostileKey().map(encode) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'a[b]',
        'a[]',
        '__proto__[x]',
        'constructor[prototype][x]',
        '%zz',
        '%',
        '%E0%A4%A',
      ),
    },
  );
  const value = fc.oneof(
    { weight: 3, arbitrary: numberText().map(encode) },
    { weight: 1, arbitrary: hostileString().map((s) => encode(s).slice(0, 100_000)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('%zz', '%', '%00', '%FF%FE', '%ED%A0%80', '&&&', '==', '+', '%2B'),
    },
  );
  return fc
    .array(fc.tuple(key, fc.option(value, { nil: undefined })), { maxLength: 12 })
    .map((pairs) => pairs.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join('&'));
}
