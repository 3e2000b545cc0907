// The peak memory one call costs, measured in a fresh Node process: its resident-set high-water mark
// (getrusage's maxrss) just before the call and after it. A separate process, because a test runner's own
// heap, other tests and the garbage collector's timing would hide a few hundred megabytes inside one.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export interface PeakMemory {
  /** maxrss once the module is loaded, the input read and `warmUp` called (KiB). */
  beforeKiB: number;
  /** maxrss after the call (KiB). */
  afterKiB: number;
  /** What the call returned, or `{ error: { message, status?, code? } }` for what it threw. */
  outcome: unknown;
  wallMs: number;
}

export interface PeakMemoryCall {
  /** A module exporting `exportName(input: Buffer, ...args)`, sync or async. */
  module: string | URL;
  exportName: string;
  input: Uint8Array;
  args?: readonly unknown[];
  /** An export called once first with the same args and `warmUpInput`, so lazy loading is not counted. */
  warmUpInput?: Uint8Array;
  timeoutMs?: number;
}

const CHILD = `
import { readFileSync } from 'node:fs';
const [moduleUrl, exportName, inputFile, warmFile, argsJson] = process.argv.slice(-5);
const fn = (await import(moduleUrl))[exportName];
const args = JSON.parse(argsJson);
const settle = async (input) => {
  try { return await fn(input, ...args); }
  catch (e) { return { error: { message: String(e?.message ?? e), status: e?.status, code: e?.code } }; }
};
if (warmFile !== '-') await settle(readFileSync(warmFile));
const input = readFileSync(inputFile);
const beforeKiB = process.resourceUsage().maxRSS;
const t = performance.now();
const result = await settle(input);
const wallMs = performance.now() - t;
const afterKiB = process.resourceUsage().maxRSS;
const outcome = result && typeof result === 'object' && 'pixels' in result
  ? { width: result.width, height: result.height } : result;
process.stdout.write(JSON.stringify({ beforeKiB, afterKiB, outcome, wallMs }));
`;

export async function peakMemory(call: PeakMemoryCall): Promise<PeakMemory> {
  const dir = mkdtempSync(join(tmpdir(), 'mec-peak-'));
  try {
    const inputFile = join(dir, 'input');
    writeFileSync(inputFile, call.input);
    let warmFile = '-';
    if (call.warmUpInput) {
      warmFile = join(dir, 'warm');
      writeFileSync(warmFile, call.warmUpInput);
    }
    const moduleUrl = call.module instanceof URL ? call.module.href : pathToFileURL(call.module).href;
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          CHILD,
          moduleUrl,
          call.exportName,
          inputFile,
          warmFile,
          JSON.stringify(call.args ?? []),
        ],
        { timeout: call.timeoutMs ?? 60_000, maxBuffer: 1024 * 1024 },
        (err, out, errOut) => {
          if (err) reject(new Error(`${err.message}\n${errOut}`));
          else resolve(out);
        },
      );
    });
    return JSON.parse(stdout) as PeakMemory;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
