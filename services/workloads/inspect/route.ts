// POST /api/v1/inspect: a PNG (image/png) or raw 8-bit grey bytes (application/octet-stream with width and
// height in the query or x-image-width/x-image-height headers). Query: threshold (1-255), minArea (pixels).
// The work runs on the site's worker pool (pool.ts): mec_workload_processing_seconds is the time a worker
// spent on it, mec_inspect_queue_wait_seconds the time it waited for one.
import type { Request } from 'express';
import { badRequest, HttpError, type RouteSpec, type ServiceDeps } from '../../skeleton/index.ts';
import { checkSize, decodeRaw, PNG_TYPE, parseDimension, RAW_TYPE, readPngHeader } from './decode.ts';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions } from './detect.ts';
import { InspectPool } from './pool.ts';
import type { InspectJob } from './worker.ts';

function optionalInt(
  query: Request['query'],
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  const raw = query[name];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d{1,7}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw badRequest(
      `invalid_${name}`,
      `query parameter ${name} must be a whole number from ${min} to ${max}`,
    );
  }
  return Number(raw);
}

/** Pure: the detection options from the query. */
export function detectOptionsFrom(query: Request['query']): DetectOptions {
  return {
    threshold: optionalInt(query, 'threshold', 1, 255, DEFAULT_DETECT_OPTIONS.threshold),
    minArea: optionalInt(query, 'minArea', 1, 1_000_000, DEFAULT_DETECT_OPTIONS.minArea),
    maxDefects: DEFAULT_DETECT_OPTIONS.maxDefects,
  };
}

export interface InspectRouteOptions {
  maxPixels: number;
  /** The site's CPU cores: the worker pool's size. */
  cores: number;
  /** Jobs that may wait for a busy pool before requests get 503. */
  queueLimit: number;
}

/** The route's options from a service's config (inspectConfigSpec plus the skeleton's INSPECT_MAX_PIXELS). */
export function inspectOptionsFrom(config: {
  inspectMaxPixels: number;
  siteCores: number;
  inspectQueueLimit: number;
}): InspectRouteOptions {
  return {
    maxPixels: config.inspectMaxPixels,
    cores: config.siteCores,
    queueLimit: config.inspectQueueLimit,
  };
}

export function inspectRoute(options: InspectRouteOptions, deps: ServiceDeps): RouteSpec {
  const pool = new InspectPool({
    cores: options.cores,
    queueLimit: options.queueLimit,
    registry: deps.metrics.registry,
    site: deps.site,
  });
  const { maxPixels } = options;
  return {
    method: 'POST',
    path: '/api/v1/inspect',
    body: { types: [PNG_TYPE, RAW_TYPE] },
    async handler(req, res, ctx) {
      const detect = detectOptionsFrom(req.query);
      const body = req.body as Buffer;
      if (!Buffer.isBuffer(body) || body.length === 0)
        throw badRequest('empty_body', 'the request body is empty');
      // What can be refused from the request alone is refused here, before it takes a place in the queue.
      let job: InspectJob;
      if (req.is(PNG_TYPE)) {
        const header = readPngHeader(body);
        checkSize(header.width, header.height, maxPixels);
        job = { kind: 'png', body, maxPixels, options: detect };
      } else {
        const width = parseDimension('width', req.query.width ?? req.get('x-image-width'));
        const height = parseDimension('height', req.query.height ?? req.get('x-image-height'));
        decodeRaw(body, width, height, maxPixels);
        job = { kind: 'raw', body, width, height, maxPixels, options: detect };
      }
      // A client that goes away while its job waits gives its place up (a running job finishes).
      const gone = new AbortController();
      const onClose = () => {
        if (!res.writableFinished) gone.abort();
      };
      res.once('close', onClose);
      const { outcome, runSeconds } = await pool.run(job, gone.signal);
      ctx.metrics.workloadDuration.observe({ site: ctx.site, workload: 'inspect' }, runSeconds);
      if (!outcome.ok) throw new HttpError(outcome.status, outcome.code, outcome.message);
      ctx.metrics.inspectPixels.inc({ site: ctx.site }, outcome.pixels);
      res.json({ ...outcome.inspection, threshold: detect.threshold, minArea: detect.minArea });
    },
  };
}
