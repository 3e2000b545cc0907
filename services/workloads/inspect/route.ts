// POST /api/v1/inspect: a PNG (image/png) or raw 8-bit grey bytes (application/octet-stream with width and
// height in the query or x-image-width/x-image-height headers). Query: threshold (1-255), minArea (pixels).
import type { Request } from 'express';
import { badRequest, type RouteSpec } from '../../skeleton/index.ts';
import { decodePng, decodeRaw, PNG_TYPE, parseDimension, RAW_TYPE } from './decode.ts';
import { DEFAULT_DETECT_OPTIONS, type DetectOptions, detectDefects, type GrayImage } from './detect.ts';
import { goldenReference } from './golden.ts';

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

export function inspectRoute(maxPixels: number): RouteSpec {
  return {
    method: 'POST',
    path: '/api/v1/inspect',
    body: { types: [PNG_TYPE, RAW_TYPE] },
    async handler(req, res, ctx) {
      const options = detectOptionsFrom(req.query);
      const body = req.body as Buffer;
      if (!Buffer.isBuffer(body) || body.length === 0)
        throw badRequest('empty_body', 'the request body is empty');
      const result = await ctx.timeWorkload('inspect', async () => {
        let image: GrayImage;
        if (req.is(PNG_TYPE)) {
          image = await decodePng(body, maxPixels);
        } else {
          const width = parseDimension('width', req.query.width ?? req.get('x-image-width'));
          const height = parseDimension('height', req.query.height ?? req.get('x-image-height'));
          image = decodeRaw(body, width, height, maxPixels);
        }
        const inspection = detectDefects(image, goldenReference(image.width, image.height), options);
        ctx.metrics.inspectPixels.inc({ site: ctx.site }, image.width * image.height);
        return inspection;
      });
      res.json({ ...result, threshold: options.threshold, minArea: options.minArea });
    },
  };
}
