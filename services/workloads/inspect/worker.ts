// One inspect job in a worker thread of the pool (pool.ts): decode, then detect against the golden reference.
// Errors a client caused come back as values (an HttpError does not survive the copy between threads); anything
// else is thrown and becomes a 500 in the service.
import { workerData } from 'node:worker_threads';
import { HttpError } from '../../skeleton/http-error.ts';
import { ByteLru } from '../lru.ts';
import { decodePng, decodeRaw } from './decode.ts';
import { type DetectOptions, detectDefects, type GrayImage, type Inspection } from './detect.ts';
import { renderGolden } from './golden.ts';

export interface InspectJob {
  kind: 'png' | 'raw';
  body: Uint8Array;
  /** Raw grey only: the dimensions the client gave (checked in the route). */
  width?: number;
  height?: number;
  maxPixels: number;
  options: DetectOptions;
}

export type InspectOutcome =
  | { ok: true; inspection: Inspection; pixels: number }
  | { ok: false; status: number; code: string; message: string };

export interface InspectWorkerData {
  /** Bytes of golden references this worker keeps (the pool divides its budget among its workers). */
  referenceCacheBytes: number;
}

const references = new ByteLru<Uint8Array>(
  (workerData as InspectWorkerData | undefined)?.referenceCacheBytes ?? 16 * 1024 * 1024,
);

function reference(width: number, height: number): Uint8Array {
  const key = `${width}x${height}`;
  let hit = references.get(key);
  if (!hit) {
    hit = renderGolden(width, height);
    references.set(key, hit);
  }
  return hit;
}

export default async function inspect(job: InspectJob): Promise<InspectOutcome> {
  try {
    const image: GrayImage =
      job.kind === 'png'
        ? await decodePng(job.body, job.maxPixels)
        : decodeRaw(job.body, job.width ?? 0, job.height ?? 0, job.maxPixels);
    const inspection = detectDefects(image, reference(image.width, image.height), job.options);
    return { ok: true, inspection, pixels: image.width * image.height };
  } catch (err) {
    if (err instanceof HttpError)
      return { ok: false, status: err.status, code: err.code, message: err.message };
    throw err;
  }
}
