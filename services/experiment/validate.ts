// Turns an experiment spec as written (YAML) into an ExperimentSpec, or into every problem found, each located
// (file:line:column and the path in the document), saying what is wrong and what is allowed. Profiles the
// conditions produce are checked by the topology model in resolve.ts, located at the level that produced them.
import { isMap, isNode, isPair, isScalar, LineCounter, type Node, parseDocument } from 'yaml';
import { parseBoundedYaml, quote, type YamlLimits } from '../topology/index.ts';
import {
  API_VERSION,
  CALIBRATION_KEYS,
  CALIBRATION_RANGES,
  CONNECTIONS,
  type Condition,
  DEFAULTS,
  DURATION_RANGES,
  type ExperimentSpec,
  IMAGE_MAX_PIXELS,
  IMAGE_SIDE,
  IMAGE_SIZE,
  KIND,
  MAX_RUNS,
  type NumberRange,
  ON_DRIFT,
  ORDER_KEYS,
  PROFILE_PATH,
  parseSpecDuration,
  SETTING_NAMES,
  SETTING_RANGES,
  type SettingValue,
  TARGETS,
  TOP_KEYS,
  TOP_RANGES,
  WORKLOADS,
} from './spec.ts';

export type Segment = string | number;

export interface SpecProblem {
  /** Where in the document, as segments (`['factors', 'rate', 2]`). */
  at: Segment[];
  message: string;
  /** 1-based line and column in the file, when the text was parsed here. */
  line?: number;
  column?: number;
}

export class SpecError extends Error {
  readonly problems: SpecProblem[];
  readonly source: string;
  constructor(source: string, problems: SpecProblem[]) {
    super(formatSpecProblems(source, problems));
    this.name = 'SpecError';
    this.source = source;
    this.problems = problems;
  }
}

/** `factors.rate[2]`, `factors.links.edge-cloud.latency[0]`: how a path is shown. */
export function formatPath(at: Segment[]): string {
  let out = '';
  for (const s of at) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return out || '(document)';
}

export function formatSpecProblems(source: string, problems: SpecProblem[]): string {
  const lines = problems.map((p) => {
    const where = p.line ? `${source}:${p.line}:${p.column}` : source;
    return `  ${where}: ${formatPath(p.at)}: ${p.message}`;
  });
  return `invalid experiment (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** The largest built-in spec is 1 KiB and 150 tokens; these let through a listed design of a few hundred conditions. */
export const SPEC_YAML_LIMITS: Readonly<YamlLimits> = Object.freeze({
  maxBytes: 64 * 1024,
  maxTokens: 10_000,
  maxDepth: 12,
  maxAliases: 64,
  maxValues: 10_000,
});

export type SpecValidation = { ok: true; spec: ExperimentSpec } | { ok: false; problems: SpecProblem[] };

/** Validates a parsed document. Pure: no files are read (profile files are checked in resolve.ts). */
export function validateSpec(doc: unknown): SpecValidation {
  const problems: SpecProblem[] = [];
  const add = (at: Segment[], message: string) => problems.push({ at, message });
  if (!isRecord(doc))
    return { ok: false, problems: [{ at: [], message: 'an experiment must be a mapping (YAML object)' }] };
  unknownKeys(doc, TOP_KEYS, [], add);
  if (doc.apiVersion !== API_VERSION)
    add(['apiVersion'], `must be "${API_VERSION}", got ${quote(doc.apiVersion)}`);
  if (doc.kind !== KIND) add(['kind'], `must be "${KIND}", got ${quote(doc.kind)}`);
  const name =
    typeof doc.name === 'string' && /^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$/.test(doc.name) ? doc.name : '';
  if (!name)
    add(['name'], `must be lower-case letters, digits and dashes (at most 48), got ${quote(doc.name)}`);
  if (doc.description !== undefined && typeof doc.description !== 'string')
    add(['description'], 'must be a string');
  const target = doc.target ?? DEFAULTS.target;
  if (!TARGETS.includes(target as never))
    add(['target'], `must be one of ${TARGETS.join(', ')}, got ${quote(target)}`);
  const profile = doc.profile ?? DEFAULTS.profile;
  if (typeof profile !== 'string' || profile.trim() === '')
    add(['profile'], 'must be a preset name or a profile file path');

  const fixed: Condition = {};
  if (doc.fixed !== undefined) {
    if (!isRecord(doc.fixed)) add(['fixed'], 'must map settings to one value each');
    else
      for (const [key, value] of Object.entries(doc.fixed)) {
        const v = checkSetting(key, value, ['fixed', key], add);
        if (v !== undefined) fixed[key] = v;
      }
  }

  const factors: ExperimentSpec['factors'] = [];
  if (doc.factors !== undefined) {
    if (!isRecord(doc.factors)) add(['factors'], 'must map settings to lists of levels');
    else
      for (const [key, levels] of Object.entries(doc.factors)) {
        const at = ['factors', key];
        if (!Array.isArray(levels) || levels.length === 0) {
          add(at, 'must be a non-empty list of levels, e.g. [10, 20, 40]');
          continue;
        }
        if (!isSettingName(key)) {
          add(at, unknownSetting());
          continue;
        }
        if (key in fixed) add(at, `is also fixed (fixed.${key}); a setting is either fixed or a factor`);
        const good: SettingValue[] = [];
        levels.forEach((level, i) => {
          const v = checkSetting(key, level, [...at, i], add);
          if (v === undefined) return;
          if (good.includes(v)) add([...at, i], `repeats the level ${quote(v)}`);
          else good.push(v);
        });
        factors.push({ name: key, levels: good });
      }
  }

  let conditions: Condition[] | null = null;
  if (doc.conditions !== undefined) {
    if (factors.length > 0)
      add(
        ['conditions'],
        'lists the design, so `factors` must be left out (or drop `conditions` for a full factorial)',
      );
    if (!Array.isArray(doc.conditions) || doc.conditions.length === 0)
      add(['conditions'], 'must be a non-empty list of mappings from settings to values');
    else {
      conditions = [];
      doc.conditions.forEach((c, i) => {
        if (!isRecord(c)) {
          add(['conditions', i], 'must map settings to values');
          return;
        }
        const condition: Condition = {};
        for (const [key, value] of Object.entries(c)) {
          if (key in fixed) add(['conditions', i, key], `is also fixed (fixed.${key})`);
          const v = checkSetting(key, value, ['conditions', i, key], add);
          if (v !== undefined) condition[key] = v;
        }
        conditions?.push(condition);
      });
    }
  }

  const repetitions = checkNumber(
    doc.repetitions ?? DEFAULTS.repetitions,
    TOP_RANGES.repetitions,
    ['repetitions'],
    add,
  );
  const durations = Object.fromEntries(
    (Object.keys(DURATION_RANGES) as Array<keyof typeof DURATION_RANGES>).map((k) => [
      k,
      checkDuration(doc[k] ?? DEFAULTS[k], DURATION_RANGES[k], [k], add),
    ]),
  ) as Record<keyof typeof DURATION_RANGES, number | undefined>;
  const confidence = checkNumber(
    doc.confidence ?? DEFAULTS.confidence,
    TOP_RANGES.confidence,
    ['confidence'],
    add,
  );

  let shuffle = DEFAULTS.shuffle;
  let seed: number | undefined = DEFAULTS.seed;
  if (doc.order !== undefined) {
    if (!isRecord(doc.order)) add(['order'], 'must be a mapping with shuffle (true/false) and seed');
    else {
      unknownKeys(doc.order, ORDER_KEYS, ['order'], add);
      if (doc.order.shuffle !== undefined) {
        if (typeof doc.order.shuffle !== 'boolean') add(['order', 'shuffle'], 'must be true or false');
        else shuffle = doc.order.shuffle;
      }
      if (doc.order.seed !== undefined)
        seed = checkNumber(doc.order.seed, TOP_RANGES.seed, ['order', 'seed'], add);
    }
  }

  const calibration = { ...DEFAULTS.calibration };
  if (doc.calibration !== undefined) {
    if (!isRecord(doc.calibration))
      add(['calibration'], 'must be a mapping with requests, tolerance, onDrift');
    else {
      const c = doc.calibration;
      unknownKeys(c, CALIBRATION_KEYS, ['calibration'], add);
      if (c.requests !== undefined) {
        const n = checkNumber(c.requests, CALIBRATION_RANGES.requests, ['calibration', 'requests'], add);
        if (n !== undefined) calibration.requests = n;
      }
      if (c.tolerance !== undefined) {
        const t = checkFraction(c.tolerance, CALIBRATION_RANGES.tolerance, ['calibration', 'tolerance'], add);
        if (t !== undefined) calibration.tolerance = t;
      }
      if (c.onDrift !== undefined) {
        if (!ON_DRIFT.includes(c.onDrift as never))
          add(['calibration', 'onDrift'], `must be one of ${ON_DRIFT.join(', ')}, got ${quote(c.onDrift)}`);
        else calibration.onDrift = c.onDrift as (typeof ON_DRIFT)[number];
      }
    }
  }

  const conditionCount = conditions
    ? conditions.length
    : factors.reduce((n, f) => n * Math.max(1, f.levels.length), 1);
  if (repetitions !== undefined && conditionCount * repetitions > MAX_RUNS)
    add(
      conditions ? ['conditions'] : ['factors'],
      `plans ${conditionCount} conditions × ${repetitions} repetitions = ${conditionCount * repetitions} runs; at most ${MAX_RUNS}: drop levels or repetitions`,
    );

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    spec: {
      name,
      description: (doc.description as string | undefined) ?? '',
      target: target as ExperimentSpec['target'],
      profile: (profile as string).trim(),
      fixed,
      factors,
      conditions,
      repetitions: repetitions as number,
      durationSeconds: durations.duration as number,
      warmupSeconds: durations.warmup as number,
      pauseSeconds: durations.pause as number,
      shuffle,
      seed: seed as number,
      confidence: confidence as number,
      calibration,
    },
  };
}

/** Parses YAML text and validates it; every problem carries its line and column. */
export function parseSpecText(text: string, source: string): ExperimentSpec {
  return parseSpecDocument(text, source).spec;
}

/** As parseSpecText, and a function that locates later problems (the resolved profiles') in the same text. */
export function parseSpecDocument(
  text: string,
  source: string,
): { spec: ExperimentSpec; locate: (problems: SpecProblem[]) => SpecProblem[] } {
  // The topology model's bounded reader refuses what would cost far more than a real spec to parse (huge text,
  // deep nesting, alias bombs); a text it accepts is parsed again here for the lines and columns.
  const bounded = parseBoundedYaml(text, SPEC_YAML_LIMITS);
  if (!bounded.ok)
    throw new SpecError(
      source,
      bounded.problems.map((p) => ({ at: p.path ? p.path.split('.') : [], message: p.message })),
    );
  const lineCounter = new LineCounter();
  // Keys written twice were refused above (the library's own check is quadratic in a mapping's keys).
  const document = parseDocument(text, { uniqueKeys: false, prettyErrors: true, lineCounter });
  if (document.errors.length > 0) {
    throw new SpecError(
      source,
      document.errors.map((e) => ({
        at: [],
        message: `is not valid YAML: ${e.message.split('\n')[0]}`,
        ...(e.linePos?.[0] ? { line: e.linePos[0].line, column: e.linePos[0].col } : {}),
      })),
    );
  }
  const result = validateSpec(bounded.value);
  if (!result.ok) throw new SpecError(source, locate(document, lineCounter, result.problems));
  return { spec: result.spec, locate: (problems) => locate(document, lineCounter, problems) };
}

/** Adds line and column to problems: the node at the path, or the nearest parent that exists. */
export function locate(
  document: ReturnType<typeof parseDocument>,
  lineCounter: LineCounter,
  problems: SpecProblem[],
): SpecProblem[] {
  return problems.map((p) => {
    for (let n = p.at.length; n >= 0; n--) {
      const node = nodeAt(document.contents, p.at.slice(0, n));
      if (node?.range) {
        const pos = lineCounter.linePos(node.range[0]);
        return { ...p, line: pos.line, column: pos.col };
      }
    }
    return p;
  });
}

function nodeAt(root: unknown, at: Segment[]): Node | undefined {
  let node: unknown = root;
  for (const s of at) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && it.key.value === s);
      node = pair?.value ?? undefined;
    } else if (isNode(node) && 'items' in node && Array.isArray(node.items) && typeof s === 'number') {
      node = node.items[s];
    } else return undefined;
  }
  return isNode(node) ? node : undefined;
}

type Add = (at: Segment[], message: string) => void;

/** One setting's value, checked; profile paths are only type-checked here (the topology model judges them). */
function checkSetting(key: string, value: unknown, at: Segment[], add: Add): SettingValue | undefined {
  if (PROFILE_PATH.test(key)) {
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) return value;
    add(at, `must be a value the profile takes at ${key} (such as 20ms, 1%, 100Mbit or a number of cores)`);
    return undefined;
  }
  switch (key) {
    case 'profile':
      if (typeof value === 'string' && value.trim() !== '') return value.trim();
      add(at, 'must be a preset name or a profile file path');
      return undefined;
    case 'workload':
      if (WORKLOADS.includes(value as never)) return value as string;
      add(at, `must be one of ${WORKLOADS.join(', ')}, got ${quote(value)}`);
      return undefined;
    case 'connection':
      if (CONNECTIONS.includes(value as never)) return value as string;
      add(
        at,
        `must be one of ${CONNECTIONS.join(', ')} (kept alive, or a new TCP connection per request), got ${quote(value)}`,
      );
      return undefined;
    case 'imageSize': {
      const m = typeof value === 'string' ? IMAGE_SIZE.exec(value) : null;
      const [w, h] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
      if (m && w >= IMAGE_SIDE.min && w <= IMAGE_SIDE.max && h >= IMAGE_SIDE.min && h <= IMAGE_SIDE.max) {
        if (w * h <= IMAGE_MAX_PIXELS) return value as string;
        add(at, `${value} is ${w * h} pixels; the services inspect at most ${IMAGE_MAX_PIXELS}`);
        return undefined;
      }
      add(
        at,
        `must be WIDTHxHEIGHT with each side from ${IMAGE_SIDE.min} to ${IMAGE_SIDE.max} pixels (e.g. 640x480), got ${quote(value)}`,
      );
      return undefined;
    }
    default: {
      const range = (SETTING_RANGES as Record<string, NumberRange>)[key];
      if (range) return checkNumber(value, range, at, add);
      add(at, unknownSetting());
      return undefined;
    }
  }
}

function isSettingName(key: string): boolean {
  return SETTING_NAMES.includes(key) || PROFILE_PATH.test(key);
}

function unknownSetting(): string {
  return `is not a setting; settings are ${SETTING_NAMES.join(', ')}, or a profile path such as links.edge-cloud.latency or sites.edge.cores`;
}

function describeRange(r: NumberRange): string {
  const unit = r.unit ? ` ${r.unit}` : '';
  return `${r.integer ? 'a whole number' : 'a number'} from ${r.min} to ${r.max}${unit}`;
}

function checkNumber(value: unknown, range: NumberRange, at: Segment[], add: Add): number | undefined {
  if (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= range.min &&
    value <= range.max &&
    (!range.integer || Number.isInteger(value))
  )
    return value;
  add(at, `must be ${describeRange(range)} (${range.what}), got ${quote(value)}`);
  return undefined;
}

/** A fraction written as `15%` or `0.15`. */
function checkFraction(value: unknown, range: NumberRange, at: Segment[], add: Add): number | undefined {
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*%$/.exec(value.trim()) : null;
  const n = m ? Number(m[1]) / 100 : value;
  if (typeof n === 'number' && Number.isFinite(n) && n >= range.min && n <= range.max) return n;
  add(
    at,
    `must be a percentage or fraction from ${range.min * 100}% to ${range.max * 100}% (${range.what}), got ${quote(value)}`,
  );
  return undefined;
}

function checkDuration(value: unknown, range: NumberRange, at: Segment[], add: Add): number | undefined {
  const d = parseSpecDuration(value);
  if (d === null) {
    add(at, `${quote(value)} is not a duration; write a number with a unit: 500ms, 8s, 2.5s, 5m`);
    return undefined;
  }
  if (d < range.min || d > range.max) {
    add(at, `must be from ${range.min}s to ${range.max}s (${range.what}), got ${quote(value)}`);
    return undefined;
  }
  return d;
}

function unknownKeys(obj: Record<string, unknown>, allowed: string[], at: Segment[], add: Add) {
  for (const key of Object.keys(obj))
    if (!allowed.includes(key))
      add([...at, key], `is not a known field; allowed here: ${allowed.join(', ')}`);
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
