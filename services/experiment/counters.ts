// The emulator's own counters over a run: every counter (`*_total`) the link proxy exports, read from its
// /metrics before and after, kept as deltas by name and labels. Read by name and tolerant of absence, so a
// counter the proxy adds, renames or drops changes what is recorded, never whether a run works. Pure but fetch.

export type CounterSet = Record<string, number>;

/** `name{labels}` → value of every counter sample in a Prometheus text exposition. */
export function parseCounters(text: string): CounterSet {
  const counters = new Set<string>();
  const out: CounterSet = {};
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) counter\s*$/.exec(line);
    if (type?.[1]) {
      counters.add(type[1]);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m?.[1]) continue;
    if (!counters.has(m[1])) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) out[`${m[1]}${m[2] ?? ''}`] = value;
  }
  return out;
}

/** after − before for every series in `after` (a series that appeared counts from zero). */
export function counterDeltas(before: CounterSet, after: CounterSet): CounterSet {
  const out: CounterSet = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** The sum of the deltas of one counter family (all label sets), or null when the proxy does not export it. */
export function familyTotal(deltas: CounterSet, family: string, present: CounterSet): number | null {
  const has = Object.keys(present).some((k) => k === family || k.startsWith(`${family}{`));
  if (!has) return null;
  return Object.entries(deltas)
    .filter(([k]) => k === family || k.startsWith(`${family}{`))
    .reduce((s, [, v]) => s + v, 0);
}

/** The counters the report names: the proxy's releases that left later than their due time. */
export const LATE_RELEASES = 'mec_link_proxy_late_releases_total';

export async function fetchCounters(url: string): Promise<CounterSet> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? parseCounters(await res.text()) : {};
  } catch {
    return {};
  }
}
