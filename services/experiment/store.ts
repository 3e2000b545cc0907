// The result set on disk. A run is done when its run.json exists: it is written last, by rename, after its
// requests file is complete, so a kill at any moment leaves either a whole run or none (an interrupted run's
// partial data moves to runs/<id>.partial/ and is run again on resume). Layout:
//   experiment.yaml   the spec as written          plan.json     conditions, resolved profiles, run order
//   metadata.json     commit, versions, host        runs/<id>/    run.json + requests.csv.gz (every request)
//   runs.csv, summary.json, report.html, figures/   written by the analysis, from the files above
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { RequestRecord } from '../loadgen/http.ts';

export const REQUEST_COLUMNS = [
  'run',
  'condition',
  'repetition',
  'site',
  'workload',
  'phase',
  'due_ms',
  'latency_ms',
  'status',
  'bytes',
  'sent_bytes',
  'connection',
  'server_ms',
  'error',
] as const;

export interface StoredRequest extends RequestRecord {
  run: string;
  condition: string;
  repetition: number;
  site: string;
  workload: string;
}

/** `results/backhaul-20261202-013000`: the name and the UTC time it started. */
export function resultDirName(name: string, at: Date): string {
  const t = at.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${name}-${t}`;
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(tmp, file);
}

export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, 'utf8')) as T;
}

export async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

export const runDir = (dir: string, id: string) => path.join(dir, 'runs', id);

/** Ids of the runs that finished (their run.json is there). */
export async function completedRunIds(dir: string): Promise<Set<string>> {
  const entries = await readdir(path.join(dir, 'runs'), { withFileTypes: true }).catch(() => []);
  const done = new Set<string>();
  for (const e of entries)
    if (
      e.isDirectory() &&
      !e.name.endsWith('.partial') &&
      (await exists(path.join(dir, 'runs', e.name, 'run.json')))
    )
      done.add(e.name);
  return done;
}

const cell = (x: number | string) => {
  if (typeof x === 'number') return Number.isFinite(x) ? String(Math.round(x * 1000) / 1000) : '';
  return /[",\n]/.test(x) ? `"${x.replaceAll('"', '""')}"` : x;
};

export function csvLine(values: ReadonlyArray<number | string>): string {
  return `${values.map(cell).join(',')}\n`;
}

/** Streams a run's requests into a gzip CSV as they end; `close()` flushes it under its final name. */
export class RequestWriter {
  readonly #gzip = createGzip();
  readonly #done: Promise<void>;
  readonly #tmp: string;
  readonly #file: string;
  count = 0;
  constructor(file: string) {
    this.#file = file;
    this.#tmp = `${file}.writing`;
    this.#done = pipeline(this.#gzip, createWriteStream(this.#tmp));
    this.#gzip.write(csvLine(REQUEST_COLUMNS));
  }
  write(r: StoredRequest): void {
    this.count++;
    this.#gzip.write(
      csvLine([
        r.run,
        r.condition,
        r.repetition,
        r.site,
        r.workload,
        r.phase,
        r.dueMs,
        r.latencyMs,
        r.status,
        r.bytes,
        r.sentBytes,
        r.connection,
        r.serverMs,
        r.error,
      ]),
    );
  }
  async close(): Promise<void> {
    this.#gzip.end();
    await this.#done;
    await rename(this.#tmp, this.#file);
  }
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

const num = (s: string | undefined) => (s === undefined || s === '' ? Number.NaN : Number(s));

/** Every request of a run's requests.csv.gz, as written. */
export async function readRequests(file: string): Promise<StoredRequest[]> {
  const lines = createInterface({
    input: createReadStream(file).pipe(createGunzip()),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  const out: StoredRequest[] = [];
  let header: string[] | null = null;
  for await (const line of lines) {
    if (!line) continue;
    const cells = parseCsvLine(line);
    if (!header) {
      header = cells;
      continue;
    }
    const row = Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
    out.push({
      run: row.run as string,
      condition: row.condition as string,
      repetition: num(row.repetition),
      site: row.site as string,
      workload: row.workload ?? '',
      phase: row.phase as StoredRequest['phase'],
      dueMs: num(row.due_ms),
      latencyMs: num(row.latency_ms),
      status: num(row.status),
      bytes: num(row.bytes),
      sentBytes: num(row.sent_bytes),
      connection: row.connection as StoredRequest['connection'],
      serverMs: num(row.server_ms),
      error: row.error ?? '',
    });
  }
  return out;
}

/** Moves an unfinished run's files aside (kept for a look, never analysed) so the run starts clean. */
export async function setAsidePartial(dir: string, id: string): Promise<void> {
  const from = runDir(dir, id);
  if (!(await exists(from))) return;
  const to = `${from}.partial`;
  await rm(to, { recursive: true, force: true });
  await rename(from, to);
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}
