// Reads what tc shows on a device back into the shape the plan diffs against. Pure: it takes tc's output
// text. `tc -j qdisc show` and `tc -j filter show` are JSON; iproute2 6.1 prints htb classes as text even
// with -j (its htb printer has no JSON), so classes are parsed from either.
import { intToIpv4, type ObservedTree, ROOT_HANDLE } from './plan.ts';

export interface QdiscStats {
  kind: string;
  handle: string;
  parent?: string;
  drops: number;
  packets: number;
  backlog: number;
}

/** The three `show` invocations observe() needs, without the leading `tc`. */
export function showCommands(device: string): { qdisc: string[]; class: string[]; filter: string[] } {
  return {
    qdisc: ['-s', '-j', 'qdisc', 'show', 'dev', device],
    class: ['-j', 'class', 'show', 'dev', device],
    filter: ['-j', 'filter', 'show', 'dev', device, 'parent', ROOT_HANDLE],
  };
}

export function parseObserved(qdiscJson: string, classText: string, filterJson: string): ObservedTree {
  const qdiscs = parseJsonArray(qdiscJson, 'tc -j qdisc show');
  const observed: ObservedTree = { leaves: new Map(), classes: new Map(), filters: [] };
  for (const q of qdiscs) {
    const kind = String(q.kind ?? '');
    const handle = String(q.handle ?? '');
    if (q.root === true) observed.root = { kind, handle };
    else if (typeof q.parent === 'string' && q.parent.startsWith(ROOT_HANDLE)) {
      observed.leaves.set(q.parent, { kind, handle, options: isRecord(q.options) ? q.options : {} });
    }
  }
  for (const c of parseClasses(classText)) observed.classes.set(c.classid, c);
  // Filters matter only under our own root; anything else on the device is not ours to read or change.
  if (observed.root?.handle === ROOT_HANDLE && observed.root.kind === 'htb') {
    observed.filters = parseFilters(filterJson);
  }
  return observed;
}

export function parseQdiscStats(qdiscJson: string): QdiscStats[] {
  return parseJsonArray(qdiscJson, 'tc -s -j qdisc show').map((q) => ({
    kind: String(q.kind ?? ''),
    handle: String(q.handle ?? ''),
    ...(typeof q.parent === 'string' ? { parent: q.parent } : {}),
    drops: Number(q.drops ?? 0),
    packets: Number(q.packets ?? 0),
    backlog: Number(q.backlog ?? 0),
  }));
}

type ObservedClass = { classid: string; parent: string; rateBits?: number; ceilBits?: number };

function parseClasses(text: string): ObservedClass[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    // A tc whose htb printer speaks JSON.
    return parseJsonArray(trimmed, 'tc -j class show')
      .filter((c) => c.class === 'htb')
      .map((c) => ({
        classid: String(c.handle ?? ''),
        parent: c.root === true ? ROOT_HANDLE : String(c.parent ?? ''),
        ...(typeof c.rate === 'number' ? { rateBits: c.rate * 8 } : {}),
        ...(typeof c.ceil === 'number' ? { ceilBits: c.ceil * 8 } : {}),
      }));
  }
  const out: ObservedClass[] = [];
  for (const line of trimmed.split('\n')) {
    const m = /^class htb (\S+) (?:(root)|parent (\S+))/.exec(line.trim());
    if (!m?.[1]) continue;
    const classid = m[1];
    // An htb class "root" of our qdisc has the qdisc itself as parent.
    const parent = m[2] ? `${classid.split(':')[0]}:` : (m[3] ?? '');
    const rate = /\brate (\S+)/.exec(line)?.[1];
    const ceil = /\bceil (\S+)/.exec(line)?.[1];
    const rateBits = rate === undefined ? undefined : parseTcRate(rate);
    const ceilBits = ceil === undefined ? undefined : parseTcRate(ceil);
    out.push({
      classid,
      parent,
      ...(rateBits === undefined ? {} : { rateBits }),
      ...(ceilBits === undefined ? {} : { ceilBits }),
    });
  }
  return out;
}

function parseFilters(json: string): ObservedTree['filters'] {
  const out: ObservedTree['filters'] = [];
  for (const f of parseJsonArray(json, 'tc -j filter show')) {
    if (f.kind !== 'u32' || !isRecord(f.options)) continue;
    const o = f.options;
    // Entries have a handle `ht:bucket:node` with a node part; the `800:` hash table rows do not.
    if (typeof o.fh !== 'string' || !/^[0-9a-f]+:[0-9a-f]*:[0-9a-f]+$/.test(o.fh)) continue;
    const match = isRecord(o.match) ? o.match : undefined;
    const prefix = match ? u32DestinationPrefix(match) : undefined;
    out.push({
      prio: Number(f.pref),
      handle: o.fh,
      flowid: typeof o.flowid === 'string' ? o.flowid : '',
      // A filter the agent did not write (other offset, several keys) never equals a desired one: deleted.
      match: prefix ?? `unrecognised:${JSON.stringify(o.match ?? null)}`,
    });
  }
  return out;
}

/** A u32 key on the IPv4 destination address (offset 16) as `a.b.c.d/len`. */
export function u32DestinationPrefix(match: Record<string, unknown>): string | undefined {
  if (match.off !== 16 || typeof match.value !== 'string' || typeof match.mask !== 'string') return undefined;
  const value = Number.parseInt(match.value, 16);
  const mask = Number.parseInt(match.mask, 16);
  if (!Number.isFinite(value) || !Number.isFinite(mask)) return undefined;
  const len = mask === 0 ? 0 : mask.toString(2).replace(/0+$/, '').length;
  if (len > 0 && mask !== (0xffffffff << (32 - len)) >>> 0) return undefined; // not a prefix mask
  return `${intToIpv4((value & mask) >>> 0)}/${len}`;
}

/** tc's printed rates: `80Mbit`, `2.5Gbit`, `64Kbit`, `1000bit`, `12Mbps` (bytes). */
export function parseTcRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)(bit|bps)$/i.exec(text);
  if (!m?.[1]) return undefined;
  const factor = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }[(m[2] ?? '').toUpperCase()] ?? 1;
  return Number(m[1]) * factor * (m[3]?.toLowerCase() === 'bps' ? 8 : 1);
}

function parseJsonArray(text: string, what: string): Array<Record<string, unknown>> {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    throw new Error(`cannot read the output of \`${what}\` as JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error(`\`${what}\` did not print a JSON array`);
  return value.filter(isRecord);
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
