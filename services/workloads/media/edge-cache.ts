// The edge's media cache: a byte-bounded LRU in front of the cloud origin. A miss fetches the segment from the
// cloud over HTTP with a bounded timeout, so backhaul delay is paid on misses only; concurrent misses for the
// same segment share one fetch (no thundering herd on the backhaul).

import type { Logger, ServiceMetrics, Site } from '../../skeleton/index.ts';
import { HttpError } from '../../skeleton/index.ts';
import { ByteLru } from '../lru.ts';
import { type SegmentId, segmentKey } from './segment.ts';

export interface EdgeCacheOptions {
  cloudUrl: string;
  timeoutMs: number;
  maxBytes: number;
  /** A segment larger than this from the cloud is refused (502) rather than buffered. */
  maxSegmentBytes: number;
  metrics: ServiceMetrics;
  site: Site;
  log: Logger;
  /** Injected for tests; the global fetch otherwise. */
  fetch?: typeof fetch;
}

export interface CacheResult {
  body: Buffer;
  cache: 'hit' | 'miss';
}

export type UpstreamOutcome = 'ok' | 'http_error' | 'timeout' | 'unreachable' | 'too_large';

export class EdgeCache {
  readonly lru: ByteLru<Buffer>;
  readonly #inflight = new Map<string, Promise<Buffer>>();
  readonly #options: EdgeCacheOptions;
  readonly #fetch: typeof fetch;

  constructor(options: EdgeCacheOptions) {
    this.#options = options;
    this.lru = new ByteLru<Buffer>(options.maxBytes);
    this.#fetch = options.fetch ?? fetch;
  }

  get inflight(): number {
    return this.#inflight.size;
  }

  async get(id: SegmentId, requestId: string): Promise<CacheResult> {
    const key = segmentKey(id);
    const { metrics, site } = this.#options;
    const cached = this.lru.get(key);
    if (cached) {
      metrics.cacheLookups.inc({ site, result: 'hit' });
      return { body: cached, cache: 'hit' };
    }
    metrics.cacheLookups.inc({ site, result: 'miss' });
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#fetchFromCloud(id, requestId).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    const body = await pending;
    return { body, cache: 'miss' };
  }

  async #fetchFromCloud(id: SegmentId, requestId: string): Promise<Buffer> {
    const { cloudUrl, timeoutMs, metrics, site, log, maxSegmentBytes } = this.#options;
    const url = `${cloudUrl}/api/v1/media/${encodeURIComponent(id.stream)}/${id.segment}`;
    const end = metrics.upstreamDuration.startTimer({ site, upstream: 'cloud' });
    const fail = (outcome: UpstreamOutcome, error: HttpError, cause?: unknown): never => {
      end({ outcome });
      log.warn('cloud fetch failed', {
        requestId,
        url,
        outcome,
        cause: (cause as Error | undefined)?.message,
      });
      throw error;
    };
    let response: Response;
    // One signal bounds the whole exchange, headers and body: a cloud that stalls mid-body still times out.
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      response = await this.#fetch(url, { signal, headers: { 'x-request-id': requestId } });
    } catch (err) {
      return this.#failure(fail, err, url, timeoutMs);
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => {});
      return fail(
        'http_error',
        new HttpError(502, 'upstream_error', `the cloud origin answered ${response.status} for ${url}`),
      );
    }
    const length = Number(response.headers.get('content-length') ?? '0');
    if (length > maxSegmentBytes) {
      await response.body?.cancel().catch(() => {});
      return fail(
        'too_large',
        new HttpError(
          502,
          'upstream_too_large',
          `the cloud sent ${length} bytes, more than ${maxSegmentBytes}`,
        ),
      );
    }
    let body: Buffer;
    try {
      body = Buffer.from(await response.arrayBuffer());
    } catch (err) {
      return this.#failure(fail, err, url, timeoutMs);
    }
    if (body.length > maxSegmentBytes) {
      return fail(
        'too_large',
        new HttpError(
          502,
          'upstream_too_large',
          `the cloud sent ${body.length} bytes, more than ${maxSegmentBytes}`,
        ),
      );
    }
    end({ outcome: 'ok' });
    this.lru.set(segmentKey(id), body);
    return body;
  }

  #failure(
    fail: (outcome: UpstreamOutcome, error: HttpError, cause?: unknown) => never,
    err: unknown,
    url: string,
    timeoutMs: number,
  ): never {
    const name = (err as Error | undefined)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return fail(
        'timeout',
        new HttpError(
          504,
          'upstream_timeout',
          `the cloud origin did not answer within ${timeoutMs} ms (CLOUD_TIMEOUT_MS) for ${url}`,
        ),
        err,
      );
    }
    return fail(
      'unreachable',
      new HttpError(
        502,
        'upstream_unreachable',
        `the cloud origin at ${url} is unreachable (check CLOUD_URL)`,
      ),
      err,
    );
  }
}
