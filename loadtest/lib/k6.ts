// The k6 side: requests per workload, the fail-fast health check and the shared options/handleSummary. Scripts
// (loadtest/*.ts) are a few lines on top of this.
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import type { Options } from 'k6/options';
import {
  type LoadConfig,
  LoadConfigError,
  loadConfig,
  type Prediction,
  type Share,
  type Site,
  SUMMARY_TREND_STATS,
  SYSTEM_TAGS,
  scenarios,
  thresholds,
} from './plan.ts';
import { PREDICTIONS } from './predictions.gen.ts';
import { type K6Summary, summaryOutputs } from './summary.ts';

function readConfig(): LoadConfig {
  try {
    return loadConfig(__ENV);
  } catch (err) {
    if (err instanceof LoadConfigError) throw new Error(err.message);
    throw err;
  }
}

export const config = readConfig();

export function prediction(): Prediction {
  const p = config.prediction ?? PREDICTIONS[config.profile];
  if (!p) {
    throw new Error(
      `MEC_PROFILE=${config.profile} is not a preset this script knows (${Object.keys(PREDICTIONS).join(', ')}); for a profile file, pass its prediction as MEC_PREDICTION (\`node services/cli/main.ts prediction FILE\` prints it; make load does this for the profile in force)`,
    );
  }
  return p;
}

export function options(shares: Share[]): Options {
  return {
    scenarios: scenarios(shares, config),
    thresholds: thresholds(shares, prediction()),
    summaryTrendStats: SUMMARY_TREND_STATS,
    systemTags: SYSTEM_TAGS,
    // Keep-alive is k6's default; say it: the thresholds assume one round trip per request.
    noConnectionReuse: false,
    discardResponseBodies: true,
  } as Options;
}

export function baseUrl(site: Site): string {
  return site === 'edge' ? config.edgeUrl : config.cloudUrl;
}

/** setup(): stop before any load when a target is not ready, saying which and what to do. */
export function requireHealthy(): void {
  for (const site of ['edge', 'cloud'] as const) {
    const url = `${baseUrl(site)}/readyz`;
    const res = http.get(url, { timeout: '5s', tags: { name: '/readyz' } });
    if (res.status !== 200) {
      exec.test.abort(
        `${site} is not ready at ${url} (HTTP ${res.status}${res.error ? `, ${res.error}` : ''}). Is the testbed up? Run \`make status\`, or set MEC_${site.toUpperCase()}_URL.`,
      );
    }
  }
}

const ECHO_BYTES = 64;

export function echo(site: Site): void {
  const res = http.get(`${baseUrl(site)}/api/v1/echo?bytes=${ECHO_BYTES}`, {
    tags: { name: '/api/v1/echo' },
  });
  check(res, { 'echo 200': (r) => r.status === 200 });
}

/** A 256×256 grey image at the golden substrate level: the same CPU work on every request. */
const INSPECT_WIDTH = 256;
const INSPECT_HEIGHT = 256;
const inspectBody = new Uint8Array(INSPECT_WIDTH * INSPECT_HEIGHT).fill(70).buffer;

export function inspect(site: Site): void {
  const res = http.post(
    `${baseUrl(site)}/api/v1/inspect?width=${INSPECT_WIDTH}&height=${INSPECT_HEIGHT}`,
    inspectBody,
    { headers: { 'content-type': 'application/octet-stream' }, tags: { name: '/api/v1/inspect' } },
  );
  check(res, { 'inspect 200': (r) => r.status === 200 });
}

/**
 * Media: a few popular streams and a long tail, like viewers of live and on-demand video, so the edge cache
 * has hits (popular segments) and misses (the tail). Segment numbers follow a simple skewed draw.
 */
export function media(site: Site): void {
  const popular = Math.random() < 0.8;
  const stream = popular ? `live-${Math.floor(Math.random() * 3)}` : `vod-${Math.floor(Math.random() * 200)}`;
  const segment = popular ? Math.floor(Math.random() * 10) : Math.floor(Math.random() * 1000);
  const res = http.get(`${baseUrl(site)}/api/v1/media/${stream}/${segment}.ts`, {
    tags: { name: '/api/v1/media/:stream/:segment' },
  });
  check(res, { 'media 200': (r) => r.status === 200 });
}

export function handleSummary(data: K6Summary): Record<string, string> {
  return summaryOutputs(data, config.prediction ?? PREDICTIONS[config.profile] ?? null, config.summaryDir);
}
