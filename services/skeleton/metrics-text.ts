// A registry's metrics as Prometheus text, rendered one metric per turn of the event loop.
// registry.metrics() renders every metric in one synchronous stretch: about 1 ms for the link proxy's ~400
// lines on an idle host, several under load. Whatever the process had due in that stretch waits, and for the
// link proxy that is releases: scraping it once a second doubled its releases more than 1 ms late in a test
// run. Yielding between metrics bounds each stretch by the largest single metric. The text is the same; a
// scrape is not one atomic snapshot across metrics, which Prometheus does not ask for (prom-client's own
// collectors are read asynchronously too).
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Registry, type RegistryContentType } from 'prom-client';

export async function metricsText(registry: Registry<RegistryContentType>): Promise<string> {
  // OpenMetrics renames counters and ends with "# EOF": leave that format to prom-client.
  if (registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE) return registry.metrics();
  const parts: string[] = [];
  for (const metric of registry.getMetricsAsArray()) {
    parts.push(await registry.getSingleMetricAsString(metric.name));
    await nextTurn();
  }
  return `${parts.join('\n\n')}\n`;
}
