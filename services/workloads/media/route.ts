// GET /api/v1/media/:stream/:segment on both sites: the cloud makes the segment (origin), the edge serves it
// from its cache and says `x-mec-cache: hit|miss`.
import type { RouteSpec } from '../../skeleton/index.ts';
import type { EdgeCache } from './edge-cache.ts';
import { MEDIA_TYPE, parseSegmentId, segmentBytes } from './segment.ts';

export const MEDIA_PATH = '/api/v1/media/:stream/:segment';

export function originMediaRoute(segmentSize: number): RouteSpec {
  return {
    method: 'GET',
    path: MEDIA_PATH,
    handler(req, res, ctx) {
      const id = parseSegmentId(req.params.stream, req.params.segment);
      const body = ctx.timeWorkloadSync('media', () => segmentBytes(id, segmentSize));
      res.type(MEDIA_TYPE).setHeader('cache-control', 'public, max-age=31536000, immutable');
      res.send(body);
    },
  };
}

export function edgeMediaRoute(cache: EdgeCache): RouteSpec {
  return {
    method: 'GET',
    path: MEDIA_PATH,
    async handler(req, res, ctx) {
      const id = parseSegmentId(req.params.stream, req.params.segment);
      const { body, cache: result } = await ctx.timeWorkload('media', () => cache.get(id, ctx.requestId));
      res.type(MEDIA_TYPE).setHeader('x-mec-cache', result);
      res.setHeader('cache-control', 'public, max-age=31536000, immutable');
      res.send(body);
    },
  };
}
