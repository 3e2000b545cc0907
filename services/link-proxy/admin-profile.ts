// A profile sent to the admin API is parsed and validated in a worker thread, not on the event loop that
// releases the delayed traffic: however costly the document (YAML aliases that expand, thousands of links), the
// proxy's own thread only waits for a message. The worker has a time and a heap bound; a document that passes
// neither is refused like an invalid one. One parse at a time, a few waiting: more are told to retry. The worker
// is started on the first PUT and stopped after a quiet half minute; one that failed a bound is replaced.
//   this file is both the caller (parseProfileOffLoop) and the worker (run with workerData).
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { HttpError } from '../skeleton/http-error.ts';
import { type Problem, ProfileError, parseProfileText, type Topology } from '../topology/index.ts';

/** Longest a profile may take to parse and validate (the presets take a few milliseconds). */
export const PROFILE_PARSE_TIMEOUT_MS = 2000;
/** The worker's heap: what a profile of MAX_PROFILE_BYTES needs many times over. */
const PROFILE_PARSE_HEAP_MB = 32;
/** Parses waiting behind the running one before more are answered 429. */
const MAX_WAITING = 4;

type Outcome = { ok: true; topology: Topology } | { ok: false; problems: Problem[] };
type Job = { text: string; source: string };

// The worker: parses each document it is sent and answers with the outcome.
if (!isMainThread && (workerData as { profileParse?: boolean })?.profileParse) {
  parentPort?.on('message', ({ text, source }: Job) => {
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
  });
}

let queue: Promise<unknown> = Promise.resolve();
let waiting = 0;
/** One worker, started on the first PUT and kept while PUTs come (its start costs more than a parse). */
let worker: Worker | undefined;
let idleTimer: NodeJS.Timeout | undefined;
const WORKER_IDLE_MS = 30_000;

/** parseProfileText in a bounded worker: resolves the topology or throws ProfileError / HttpError (429). */
export async function parseProfileOffLoop(text: string, source: string): Promise<Topology> {
  if (waiting >= MAX_WAITING)
    throw new HttpError(429, 'busy', 'other profile changes are being validated; retry in a second', {
      headers: { 'retry-after': '1' },
    });
  waiting++;
  const turn = queue.then(() => {
    waiting--;
    return inWorker({ text, source });
  });
  queue = turn.catch(() => {});
  const outcome = await turn;
  if (!outcome.ok) throw new ProfileError(source, outcome.problems);
  return outcome.topology;
}

function startWorker(): Worker {
  const w = new Worker(fileURLToPath(new URL('./admin-profile.ts', import.meta.url)), {
    workerData: { profileParse: true },
    resourceLimits: { maxOldGenerationSizeMb: PROFILE_PARSE_HEAP_MB },
    stdout: true,
    stderr: true,
  });
  // It must not keep a stopping proxy alive.
  w.unref();
  // A failure between jobs (out of memory after a timeout gave up on it) must not reach the process as an
  // unhandled 'error': the job that was running has its own listener, and a broken worker is replaced.
  w.on('error', () => {
    if (worker === w) worker = undefined;
  });
  return w;
}

function inWorker(job: Job): Promise<Outcome> {
  const tooCostly = (what: string): Outcome => ({
    ok: false,
    problems: [
      { path: '', message: `${what}; a link profile is a small document: fewer sites, links or aliases` },
    ],
  });
  clearTimeout(idleTimer);
  worker ??= startWorker();
  const w = worker;
  return new Promise((resolve) => {
    const settle = (outcome: Outcome, broken: boolean) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      if (broken) {
        // A worker that timed out or ran out of memory is not reused.
        void w.terminate();
        if (worker === w) worker = undefined;
      } else {
        idleTimer = setTimeout(() => {
          if (worker === w) worker = undefined;
          void w.terminate();
        }, WORKER_IDLE_MS).unref();
      }
      resolve(outcome);
    };
    const onMessage = (outcome: Outcome) => settle(outcome, false);
    const onError = (err: NodeJS.ErrnoException) =>
      settle(
        tooCostly(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `needs more than ${PROFILE_PARSE_HEAP_MB} MB to parse and validate`
            : 'could not be parsed',
        ),
        true,
      );
    const onExit = () => settle(tooCostly('could not be parsed'), true);
    const timer = setTimeout(
      () => settle(tooCostly(`took more than ${PROFILE_PARSE_TIMEOUT_MS} ms to parse and validate`), true),
      PROFILE_PARSE_TIMEOUT_MS,
    );
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage(job);
  });
}
