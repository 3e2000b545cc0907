// The edge service: the MEC application next to the radio network. echo and inspect run here; media is served
// from a bounded cache filled from the cloud origin on a miss.
import { bytesVar, httpUrlVar, integerVar, type ServiceDefinition } from '../skeleton/index.ts';
import { echoRoute } from '../workloads/echo/echo.ts';
import { inspectConfigSpec } from '../workloads/inspect/config.ts';
import { inspectOptionsFrom, inspectRoute } from '../workloads/inspect/route.ts';
import { EdgeCache } from '../workloads/media/edge-cache.ts';
import { edgeMediaRoute } from '../workloads/media/route.ts';

export const edgeConfigSpec = {
  ...inspectConfigSpec,
  cloudUrl: httpUrlVar('CLOUD_URL', 'base URL of the cloud service (the media origin)', 'http://cloud:8080'),
  cloudTimeoutMs: integerVar(
    'CLOUD_TIMEOUT_MS',
    'bound on one fetch from the cloud, headers and body (then 504)',
    2000,
    1,
    120_000,
  ),
  mediaCacheMaxBytes: bytesVar(
    'MEDIA_CACHE_MAX_BYTES',
    'bytes of media segments the edge keeps (LRU)',
    64 * 1024 ** 2,
    0,
    16 * 1024 ** 3,
  ),
  mediaSegmentMaxBytes: bytesVar(
    'MEDIA_SEGMENT_MAX_BYTES',
    'largest segment accepted from the cloud (larger gets 502)',
    64 * 1024 ** 2,
    1,
    1024 ** 3,
  ),
};

export const edgeService: ServiceDefinition<typeof edgeConfigSpec> = {
  site: 'edge',
  configSpec: edgeConfigSpec,
  routes: (config, deps) => {
    const { metrics, log, site } = deps;
    const cache = new EdgeCache({
      cloudUrl: config.cloudUrl,
      timeoutMs: config.cloudTimeoutMs,
      maxBytes: config.mediaCacheMaxBytes,
      maxSegmentBytes: config.mediaSegmentMaxBytes,
      metrics,
      log,
      site,
    });
    return [echoRoute(), inspectRoute(inspectOptionsFrom(config), deps), edgeMediaRoute(cache)];
  },
};
