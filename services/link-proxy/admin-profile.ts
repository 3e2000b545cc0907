// A profile sent to the admin API is parsed and validated in a worker thread, not on the event loop that
// releases the delayed traffic: the parser's own bounds keep a document to a few milliseconds, and even those stay
// off the proxy's thread, which only waits for a message. The worker has a heap bound (a document that needs more
// is refused like an invalid one) and a time bound counted from when it is ready: the parser's size bounds make a
// slow parse the host's doing, not the document's, so it is answered 503 with a retry, never as an invalid
// profile. One parse at a time, a few waiting: more are told to retry. The worker is started on the first PUT and
// stopped after a quiet half minute; one that failed a bound is replaced.
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

type Outcome =
  | { ok: true; topology: Topology }
  | { ok: false; problems: Problem[] }
  | { ok: false; busy: string };
type Job = { text: string; source: string };

// The worker: parses each document it is sent and answers with the outcome.
if (!isMainThread && (workerData as { profileParse?: boolean })?.profileParse) {
  // Its modules are loaded by now: the parse's time bound starts from this message.
  parentPort?.postMessage('ready');
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
let worker: { thread: Worker; ready: Promise<boolean> } | undefined;
/** How long a worker may take to load its modules before the PUT is answered 503 (seconds on a busy host). */
const WORKER_START_TIMEOUT_MS = 30_000;
let idleTimer: NodeJS.Timeout | undefined;
const WORKER_IDLE_MS = 30_000;

/** parseProfileText in a bounded worker: resolves the topology or throws ProfileError / HttpError (429). */
export async function parseProfileOffLoop(
  text: string,
  source: string,
  timeoutMs = PROFILE_PARSE_TIMEOUT_MS,
): Promise<Topology> {
  if (waiting >= MAX_WAITING)
    throw new HttpError(429, 'busy', 'other profile changes are being validated; retry in a second', {
      headers: { 'retry-after': '1' },
    });
  waiting++;
  const turn = queue.then(() => {
    waiting--;
    return inWorker({ text, source }, timeoutMs);
  });
  queue = turn.catch(() => {});
  const outcome = await turn;
  if (outcome.ok) return outcome.topology;
  if ('busy' in outcome) throw new HttpError(503, 'busy', outcome.busy, { headers: { 'retry-after': '1' } });
  throw new ProfileError(source, outcome.problems);
}

function startWorker(): { thread: Worker; ready: Promise<boolean> } {
  const w = new Worker(fileURLToPath(new URL('./admin-profile.ts', import.meta.url)), {
    workerData: { profileParse: true },
    resourceLimits: { maxOldGenerationSizeMb: PROFILE_PARSE_HEAP_MB },
    stdout: true,
    stderr: true,
  });
  // It must not keep a stopping proxy alive.
  w.unref();
  const entry = {
    thread: w,
    ready: new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), WORKER_START_TIMEOUT_MS).unref();
      w.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      w.once('exit', () => resolve(false));
    }),
  };
  // A failure between jobs (out of memory after a timeout gave up on it) must not reach the process as an
  // unhandled 'error': the job that was running has its own listener, and a broken worker is replaced.
  w.on('error', () => {
    if (worker === entry) worker = undefined;
  });
  return entry;
}

async function inWorker(job: Job, timeoutMs: number): Promise<Outcome> {
  const tooCostly = (what: string): Outcome => ({
    ok: false,
    problems: [
      { path: '', message: `${what}; a link profile is a small document: fewer sites, links or aliases` },
    ],
  });
  clearTimeout(idleTimer);
  worker ??= startWorker();
  const entry = worker;
  const w = entry.thread;
  if (!(await entry.ready)) {
    if (worker === entry) worker = undefined;
    void w.terminate();
    return { ok: false, busy: 'the profile validator did not start in time (the host is busy); retry' };
  }
  return new Promise((resolve) => {
    const settle = (outcome: Outcome, broken: boolean) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      if (broken) {
        // A worker that timed out or ran out of memory is not reused.
        void w.terminate();
        if (worker === entry) worker = undefined;
      } else {
        idleTimer = setTimeout(() => {
          if (worker === entry) worker = undefined;
          void w.terminate();
        }, WORKER_IDLE_MS).unref();
      }
      resolve(outcome);
    };
    // A reply is judged by the time it took, not only by the timer: when the loop was held up, a late reply
    // and the timer are due together, and the reply must not win for having been read first.
    const onMessage = (outcome: Outcome) =>
      settle(performance.now() - sent >= timeoutMs ? slow : outcome, false);
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
    const slow: Outcome = {
      ok: false,
      busy: `the profile took more than ${timeoutMs} ms to validate (the host is busy); retry`,
    };
    const timer = setTimeout(() => settle(slow, true), timeoutMs);
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    const sent = performance.now();
    w.postMessage(job);
  });
}
