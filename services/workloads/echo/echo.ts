// echo: a small request/response, like a voice-assistant command: the pure-network case. The payload is
// deterministic so clients (and the bench's bare server) can check it, and bounded so it stays small.
import { badRequest, type RouteSpec } from '../../skeleton/index.ts';

export const ECHO_DEFAULT_BYTES = 64;
export const ECHO_MAX_BYTES = 1024 * 1024;

/** Pure: the `bytes` query value as a count, or a 400 saying what is allowed. */
export function parseEchoBytes(raw: unknown): number {
  if (raw === undefined) return ECHO_DEFAULT_BYTES;
  if (typeof raw !== 'string' || !/^\d{1,7}$/.test(raw) || Number(raw) > ECHO_MAX_BYTES) {
    throw badRequest(
      'invalid_bytes',
      `query parameter bytes must be a whole number from 0 to ${ECHO_MAX_BYTES}`,
    );
  }
  return Number(raw);
}

const PATTERN = Buffer.from('mec-testbed echo 0123456789abcdefghijklmnopqrstuvwxyz\n');

/** The echo body: `bytes` bytes of a repeating pattern (cheap to make, easy to verify). */
export function echoPayload(bytes: number): Buffer {
  const out = Buffer.allocUnsafe(bytes);
  for (let offset = 0; offset < bytes; offset += PATTERN.length) PATTERN.copy(out, offset, 0, bytes - offset);
  return out;
}

export function echoRoute(): RouteSpec {
  return {
    method: 'GET',
    path: '/api/v1/echo',
    handler(req, res, ctx) {
      const bytes = parseEchoBytes(req.query.bytes);
      const body = ctx.timeWorkloadSync('echo', () => echoPayload(bytes));
      // node's own end() rather than express's send(): echo is the latency floor, and send()'s freshness and
      // content negotiation work is a measurable share of a 64-byte answer.
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', body.length);
      res.end(body);
    },
  };
}
