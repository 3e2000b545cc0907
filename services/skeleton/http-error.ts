// Every 4xx/5xx of every process (edge, cloud, the link proxy's admin API, the link agent) leaves as
// `{ "error": { "code", "message", ...details } }`. Handlers throw HttpError; the skeleton's error handler turns it,
// and whatever express or body-parser throw, into that shape.

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  /** Extra fields of the error object, e.g. the located problems of a rejected profile. */
  readonly details: Record<string, unknown>;
  constructor(
    status: number,
    code: string,
    message: string,
    options: { headers?: Record<string, string>; details?: Record<string, unknown> } = {},
  ) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
    this.details = options.details ?? {};
  }
}

export function badRequest(code: string, message: string): HttpError {
  return new HttpError(400, code, message);
}

export interface ErrorBody {
  error: { code: string; message: string; [detail: string]: unknown };
}

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}): ErrorBody {
  return { error: { ...details, code, message } };
}

/** Pure: `text` for an error message, cut to `max` characters, so no answer echoes an unbounded input. */
export function clip(text: string, max = 120): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** Pure: map anything thrown in a request to a status and an error body the client may see. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown } | null;
  const status =
    typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  // body-parser / raw-body errors carry a `type`; give them stable codes and messages that say what to do.
  switch (e?.type) {
    case 'entity.too.large':
      return new HttpError(413, 'body_too_large', 'request body is larger than this endpoint accepts', {
        headers: { connection: 'close' },
      });
    case 'request.aborted':
      return new HttpError(
        400,
        'request_aborted',
        'the client closed the connection before the body was complete',
      );
    case 'request.size.invalid':
      return new HttpError(400, 'body_length_mismatch', 'request body length does not match Content-Length');
    case 'encoding.unsupported':
      return new HttpError(
        415,
        'unsupported_encoding',
        'Content-Encoding is not accepted; send the body unencoded',
        { headers: { connection: 'close' } },
      );
  }
  // Other client faults (a malformed percent-escape in a path parameter, …): the status stands, but the message
  // is ours: the library's may quote the input.
  if (status >= 400 && status < 500) {
    return new HttpError(status, 'bad_request', 'the request is malformed (check its URL and headers)');
  }
  // 5xx: never leak internals; the log has the details.
  return new HttpError(
    500,
    'internal',
    'internal error; the service log has details (look up the x-request-id)',
  );
}
