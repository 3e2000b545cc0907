// A profile sent to the admin API is parsed and validated in a worker thread, not on the event loop that
// releases the delayed traffic: however costly the document (YAML aliases that expand, thousands of links), the
// proxy's own thread only waits for a message. The worker has a time and a heap bound; a document that passes
// neither is refused like an invalid one. One parse at a time, a few waiting: more are told to retry.
//   this file is both the caller (parseProfileOffLoop) and the worker (run with workerData).
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { HttpError } from '../skeleton/http-error.ts';
import { type Problem, ProfileError, parseProfileText, type Topology } from '../topology/index.ts';

/** Longest a profile may take to parse and validate (the presets take a few milliseconds). */
export const PROFILE_PARSE_TIMEOUT_MS = 2000;
/** The worker's heap: what a profile of MAX_PROFILE_BYTES needs many times over. */
const PROFILE_PARSE_HEAP_MB = 64;
/** Parses waiting behind the running one before more are answered 429. */
const MAX_WAITING = 4;

type Outcome = { ok: true; topology: Topology } | { ok: false; problems: Problem[] };

if (!isMainThread && (workerData as { profileParse?: boolean })?.profileParse) {
  const { text, source } = workerData as { text: string; source: string };
  let outcome: Outcome;
  try {
    outcome = { ok: true, topology: parseProfileText(text, source) };
  } catch (err) {
    outcome =
      err instanceof ProfileError
        ? { ok: false, problems: err.problems }
        : { ok: false, problems: [{ path: '', message: 'cannot be parsed' }] };
  }
  parentPort?.postMessage(outcome);
}

let queue: Promise<unknown> = Promise.resolve();
let waiting = 0;

/** parseProfileText in a bounded worker: resolves the topology or throws ProfileError / HttpError (429). */
export async function parseProfileOffLoop(text: string, source: string): Promise<Topology> {
  if (waiting >= MAX_WAITING)
    throw new HttpError(429, 'busy', 'other profile changes are being validated; retry in a second', {
      headers: { 'retry-after': '1' },
    });
  waiting++;
  const turn = queue.then(() => {
    waiting--;
    return inWorker(text, source);
  });
  queue = turn.catch(() => {});
  const outcome = await turn;
  if (!outcome.ok) throw new ProfileError(source, outcome.problems);
  return outcome.topology;
}

function inWorker(text: string, source: string): Promise<Outcome> {
  const tooCostly = (what: string): Outcome => ({
    ok: false,
    problems: [
      { path: '', message: `${what}; a link profile is a small document: fewer sites, links or aliases` },
    ],
  });
  return new Promise((resolve) => {
    const worker = new Worker(fileURLToPath(new URL('./admin-profile.ts', import.meta.url)), {
      workerData: { profileParse: true, text, source },
      resourceLimits: { maxOldGenerationSizeMb: PROFILE_PARSE_HEAP_MB },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => settle(tooCostly(`took more than ${PROFILE_PARSE_TIMEOUT_MS} ms to parse and validate`)),
      PROFILE_PARSE_TIMEOUT_MS,
    );
    worker.once('message', (outcome: Outcome) => settle(outcome));
    worker.once('error', (err: NodeJS.ErrnoException) =>
      settle(
        tooCostly(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `needs more than ${PROFILE_PARSE_HEAP_MB} MB to parse and validate`
            : 'could not be parsed',
        ),
      ),
    );
    worker.once('exit', () => settle(tooCostly('could not be parsed')));
  });
}
