// Every 4xx/5xx leaves the service as `{ "error": { "code", "message" } }`. Handlers throw HttpError; the
// skeleton's error handler turns it (and express/body-parser errors) into that shape.

export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export function badRequest(code: string, message: string): HttpError {
  return new HttpError(400, code, message);
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Pure: map anything thrown in a request to a status and an error body the client may see. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { status?: unknown; statusCode?: unknown; type?: unknown; message?: unknown } | null;
  const status =
    typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : 500;
  // body-parser / raw-body errors carry a `type`; give them stable codes and messages that say what to do.
  switch (e?.type) {
    case 'entity.too.large':
      return new HttpError(
        413,
        'body_too_large',
        'request body is larger than this service accepts (MAX_BODY_BYTES)',
      );
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
        'Content-Encoding is not supported; send the body unencoded',
      );
  }
  if (status >= 400 && status < 500) {
    return new HttpError(status, 'bad_request', typeof e?.message === 'string' ? e.message : 'bad request');
  }
  // 5xx: never leak internals; the log has the details.
  return new HttpError(
    500,
    'internal',
    'internal error; the service log has details (look up the x-request-id)',
  );
}
