// The requests a run sends for its workload, the same on both sites: echo with its response size, inspect with a
// synthetic part image of the condition's size (raw 8-bit grey, so the upload is exactly width × height bytes),
// media from a few segments the edge has cached (hit) or a new segment every request (miss). Pure but for the
// image, which is made once per size.
import type { HttpRequestShape, Phase } from '../loadgen/http.ts';
import { syntheticImage } from '../workloads/inspect/synthetic.ts';
import type { RunSettings } from './spec.ts';

/** Segments a media-hit run cycles through: fetched once before the warm-up, so every measured request hits. */
export const HIT_SEGMENTS = 4;

const images = new Map<string, Buffer>();
function inspectBody(width: number, height: number): Buffer {
  const key = `${width}x${height}`;
  let body = images.get(key);
  if (!body) {
    // One defect where it fits, so the detector does its whole work; tiny images are clean parts.
    const defects = width >= 64 && height >= 64 ? 1 : 0;
    body = Buffer.from(syntheticImage({ width, height, defects, seed: 7 }).pixels);
    images.set(key, body);
  }
  return body;
}

/**
 * The i-th request of a phase. `stream` names the run's media stream: unique per run attempt and site, so a
 * redone run's misses are misses again.
 */
export function workloadRequest(
  s: RunSettings,
  stream: string,
  i: number,
  phase: Phase | 'calibrate',
): HttpRequestShape {
  switch (s.workload) {
    case 'echo':
      return { method: 'GET', path: `/api/v1/echo?bytes=${s.echoBytes}` };
    case 'inspect':
      return {
        method: 'POST',
        path: `/api/v1/inspect?width=${s.imageWidth}&height=${s.imageHeight}`,
        headers: { 'content-type': 'application/octet-stream' },
        body: inspectBody(s.imageWidth, s.imageHeight),
      };
    case 'media-hit':
      return { method: 'GET', path: `/api/v1/media/${stream}-hit/${i % HIT_SEGMENTS}` };
    case 'media-miss':
      return { method: 'GET', path: `/api/v1/media/${stream}-${phase[0]}/${i}` };
  }
}

/** Requests to send before a phase so its workload is in the state it names (the edge's cache holding the hits). */
export function prepareRequests(s: RunSettings, stream: string): HttpRequestShape[] {
  if (s.workload !== 'media-hit') return [];
  return Array.from({ length: HIT_SEGMENTS }, (_, i) => workloadRequest(s, stream, i, 'warmup'));
}
