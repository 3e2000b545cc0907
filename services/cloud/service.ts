// The cloud service: the same application as the edge, in a central region, and the media origin.
import { bytesVar, type ServiceDefinition } from '../skeleton/index.ts';
import { echoRoute } from '../workloads/echo/echo.ts';
import { inspectConfigSpec } from '../workloads/inspect/config.ts';
import { inspectOptionsFrom, inspectRoute } from '../workloads/inspect/route.ts';
import { originMediaRoute } from '../workloads/media/route.ts';

export const cloudConfigSpec = {
  ...inspectConfigSpec,
  mediaSegmentBytes: bytesVar(
    'MEDIA_SEGMENT_BYTES',
    'size of every media segment the origin serves (a 2 s segment at 2 Mbit/s is 512Ki)',
    512 * 1024,
    1,
    64 * 1024 ** 2,
  ),
};

export const cloudService: ServiceDefinition<typeof cloudConfigSpec> = {
  site: 'cloud',
  configSpec: cloudConfigSpec,
  routes: (config, deps) => [
    echoRoute(),
    inspectRoute(inspectOptionsFrom(config), deps),
    originMediaRoute(config.mediaSegmentBytes),
  ],
};
