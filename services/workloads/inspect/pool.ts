// Site compute for inspect: the jobs run on a pool of worker threads as large as the site's cores, so an edge
// with fewer cores than the cloud really can do less at once. A fraction of a core (Kubernetes' 500m) is
// enforced as a duty cycle: after a job that took t seconds its worker rests t * (1/duty - 1), as a CPU quota
// throttles a container. Jobs wait in a bounded FIFO in front of the pool; when it is full the request is
// answered 503 with Retry-After at once, so an overloaded site degrades visibly instead of holding bodies
// without bound. piscina runs the threads (spawned on first use, replaced if one dies); the queue, the
// admission and the duty cycle are here, so a waiting job can be dropped when its client goes away without
// stopping a thread in the middle of a decode.
import { performance } from 'node:perf_hooks';
import { Piscina } from 'piscina';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
// libvips must stay loaded in the main thread while workers use it (sharp's advice for worker threads: the
// shared libraries are otherwise unloaded when the last worker exits, and loaded again by the next).
import 'sharp';
import { HttpError } from '../../skeleton/http-error.ts';
import { DURATION_BUCKETS_SECONDS } from '../../skeleton/metrics.ts';
import { workersFor } from '../../topology/compute.ts';
import type { InspectJob, InspectOutcome, InspectWorkerData } from './worker.ts';

export interface PoolShape {
  /** Worker threads: the cores rounded, at least one. */
  workers: number;
  /** The share of its time each worker may compute, so that workers x duty = cores (at most 1). */
  duty: number;
}

/** Pure: the pool that gives `cores` of compute (as many threads as the topology model says a site runs). */
export function poolShape(cores: number): PoolShape {
  const workers = workersFor(cores);
  return { workers, duty: Math.min(1, cores / workers) };
}

/** Pure: how long a client refused because the queue is full should wait, in whole seconds (at least 1): the
 * time the pool needs to work through what is queued now, at the mean time a job has held a worker. */
export function retryAfterSeconds(queued: number, workers: number, meanHoldSeconds: number): number {
  const seconds = ((queued + 1) * meanHoldSeconds) / workers;
  return Math.max(1, Math.min(3600, Math.ceil(Number.isFinite(seconds) ? seconds : 1)));
}

export interface InspectPoolOptions {
  /** The site's CPU cores (SITE_CORES). */
  cores: number;
  /** Jobs that may wait for a worker (INSPECT_QUEUE_LIMIT). */
  queueLimit: number;
  /** Golden-reference bytes the whole pool may cache (divided among the workers). */
  referenceCacheBytes?: number;
  registry: Registry;
  site: string;
  /** The module the threads run (default worker.ts); tests give one whose jobs take a known time. */
  workerFile?: URL;
}

interface Waiting {
  grant: () => void;
  abandon: () => void;
}

export interface PoolRun {
  outcome: InspectOutcome;
  /** Seconds the job waited for a worker. */
  waitSeconds: number;
  /** Seconds the worker spent on it. */
  runSeconds: number;
}

export class InspectPool {
  readonly shape: PoolShape;
  readonly queueLimit: number;
  readonly #referenceCacheBytes: number;
  readonly #workerFile: URL;
  #piscina: Piscina<InspectJob, InspectOutcome> | undefined;
  /** Workers neither computing nor resting. */
  #free: number;
  readonly #queue: Waiting[] = [];
  /** Mean time a job holds a worker (run + rest), smoothed; for Retry-After. */
  #meanHoldSeconds = 0.05;
  readonly #waitSeconds: Histogram<'site'>;
  readonly #rejected: Counter<'site'>;
  readonly #site: string;

  constructor(options: InspectPoolOptions) {
    this.shape = poolShape(options.cores);
    this.queueLimit = options.queueLimit;
    this.#free = this.shape.workers;
    this.#workerFile = options.workerFile ?? new URL('./worker.ts', import.meta.url);
    this.#referenceCacheBytes = Math.floor(
      (options.referenceCacheBytes ?? 64 * 1024 ** 2) / this.shape.workers,
    );
    const site = options.site;
    this.#site = site;
    const registers = [options.registry];
    const pool = this;
    new Gauge({
      name: 'mec_site_cores',
      help: 'CPU cores of the site (SITE_CORES): the compute its inspect worker pool gives.',
      labelNames: ['site'],
      registers,
      collect() {
        this.set({ site }, options.cores);
      },
    });
    new Gauge({
      name: 'mec_inspect_workers',
      help: 'Worker threads of the inspect pool.',
      labelNames: ['site'],
      registers,
      collect() {
        this.set({ site }, pool.shape.workers);
      },
    });
    new Gauge({
      name: 'mec_inspect_workers_busy',
      help: 'Inspect workers computing a job or resting after one (a fraction of a core is a duty cycle).',
      labelNames: ['site'],
      registers,
      collect() {
        this.set({ site }, pool.busy);
      },
    });
    new Gauge({
      name: 'mec_inspect_queue_length',
      help: 'Inspect jobs waiting for a worker.',
      labelNames: ['site'],
      registers,
      collect() {
        this.set({ site }, pool.queued);
      },
    });
    new Gauge({
      name: 'mec_inspect_queue_capacity',
      help: 'Inspect jobs that may wait for a worker (INSPECT_QUEUE_LIMIT); more are refused with 503.',
      labelNames: ['site'],
      registers,
      collect() {
        this.set({ site }, pool.queueLimit);
      },
    });
    this.#waitSeconds = new Histogram({
      name: 'mec_inspect_queue_wait_seconds',
      help: 'Time an inspect job waited for a worker.',
      labelNames: ['site'],
      buckets: DURATION_BUCKETS_SECONDS,
      registers,
    });
    this.#rejected = new Counter({
      name: 'mec_inspect_rejected_total',
      help: 'Inspect requests refused with 503 because the queue was full.',
      labelNames: ['site'],
      registers,
    });
    this.#rejected.inc({ site }, 0);
    this.#waitSeconds.zero({ site });
  }

  get busy(): number {
    return this.shape.workers - this.#free;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Runs a job when a worker is free; waits in the queue meanwhile; throws a 503 HttpError at once when the
   * queue is full, and an AbortError-like HttpError when `signal` aborts while it waits.
   */
  async run(job: InspectJob, signal?: AbortSignal): Promise<PoolRun> {
    const queuedAt = performance.now();
    if (this.#free === 0) {
      if (this.#queue.length >= this.queueLimit) {
        this.#rejected.inc({ site: this.#site });
        const retry = retryAfterSeconds(this.#queue.length, this.shape.workers, this.#meanHoldSeconds);
        throw new HttpError(
          503,
          'inspect_overloaded',
          `all ${this.shape.workers} inspect workers are busy and ${this.#queue.length} requests wait (INSPECT_QUEUE_LIMIT); retry in ${retry} s`,
          { headers: { 'retry-after': String(retry) } },
        );
      }
      await this.#wait(signal);
    } else {
      this.#free--;
    }
    const waitSeconds = (performance.now() - queuedAt) / 1000;
    this.#waitSeconds.observe({ site: this.#site }, waitSeconds);
    const started = performance.now();
    let runSeconds = 0;
    try {
      const transferable =
        job.body.byteOffset === 0 && job.body.byteLength === job.body.buffer.byteLength
          ? [job.body.buffer as ArrayBuffer]
          : [];
      const outcome = await this.#threads().run(job, { transferList: transferable });
      runSeconds = (performance.now() - started) / 1000;
      return { outcome, waitSeconds, runSeconds };
    } finally {
      runSeconds ||= (performance.now() - started) / 1000;
      const rest = runSeconds * (1 / this.shape.duty - 1);
      this.#meanHoldSeconds = 0.8 * this.#meanHoldSeconds + 0.2 * (runSeconds + rest);
      if (rest > 0) setTimeout(() => this.#release(), rest * 1000).unref();
      else this.#release();
    }
  }

  /** Stops the threads once the running jobs are done; queued jobs are refused. */
  async close(): Promise<void> {
    for (const waiting of this.#queue.splice(0)) waiting.abandon();
    await this.#piscina?.close();
  }

  #threads(): Piscina<InspectJob, InspectOutcome> {
    this.#piscina ??= new Piscina<InspectJob, InspectOutcome>({
      filename: this.#workerFile.href,
      minThreads: 0,
      maxThreads: this.shape.workers,
      // Threads stay once started: a site's cores do not come and go. (Idle threads do not keep the
      // process alive: piscina unrefs them.)
      idleTimeout: 2 ** 31 - 1,
      // The queue in front admits at most one job per worker; this is only a backstop.
      maxQueue: this.shape.workers,
      concurrentTasksPerWorker: 1,
      workerData: { referenceCacheBytes: this.#referenceCacheBytes } satisfies InspectWorkerData,
      recordTiming: false,
    });
    return this.#piscina;
  }

  #wait(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry: Waiting = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        abandon: () => {
          signal?.removeEventListener('abort', onAbort);
          reject(
            new HttpError(503, 'inspect_stopping', 'the service is stopping; retry on another instance'),
          );
        },
      };
      const onAbort = () => {
        const at = this.#queue.indexOf(entry);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(new HttpError(499, 'client_closed', 'the client went away while the job waited'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(entry);
    });
  }

  #release(): void {
    const next = this.#queue.shift();
    if (next) next.grant();
    else this.#free++;
  }
}
