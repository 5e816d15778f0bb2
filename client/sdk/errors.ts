/** One field-level problem, as the service reports it (`popo.tau`, `line 3.answer`, `Idempotency-Key`...). */
export interface PopoErrorDetail {
  field: string;
  reason: string;
}

/**
 * Any non-2xx answer from the service. `code` is the service's machine code (`validation_failed`,
 * `not_found`, `invalid_state`, ...; `http_<status>` when the body is not the service's error shape, e.g. from a
 * proxy), `details` the per-field reasons.
 */
export class PopoApiError extends Error {
  override readonly name = 'PopoApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: PopoErrorDetail[] = [],
    readonly method?: string,
    readonly url?: string,
  ) {
    super(message);
  }

  /** The first field named by the service, if any: what a form or a CI log should point at. */
  get field(): string | undefined {
    return this.details[0]?.field;
  }

  /** Builds the error from a response and its already-read body (parsed JSON or raw text). */
  static fromResponse(response: Response, body: unknown, method?: string): PopoApiError {
    const info = isErrorBody(body) ? body.error : undefined;
    if (info) {
      const details = Array.isArray(info.details)
        ? info.details.filter(
            (d): d is PopoErrorDetail => typeof d?.field === 'string' && typeof d?.reason === 'string',
          )
        : [];
      return new PopoApiError(response.status, info.code, info.message, details, method, response.url);
    }
    const text = typeof body === 'string' ? body.trim().slice(0, 200) : '';
    const message = `${response.status} ${response.statusText}${text ? `: ${text}` : ''}`;
    return new PopoApiError(response.status, `http_${response.status}`, message, [], method, response.url);
  }
}

/** The service could not be reached at all (refused, DNS, reset): nothing was answered. */
export class PopoConnectionError extends Error {
  override readonly name = 'PopoConnectionError';

  constructor(
    readonly url: string,
    options: { cause: unknown },
  ) {
    const cause = options.cause as
      { message?: string; cause?: { code?: string; message?: string } } | undefined;
    const reason = cause?.cause?.code ?? cause?.cause?.message ?? cause?.message ?? String(options.cause);
    super(`cannot reach the popo service at ${url}: ${reason}`, options);
  }
}

function isErrorBody(
  body: unknown,
): body is { error: { code: string; message: string; details?: { field?: unknown; reason?: unknown }[] } } {
  if (typeof body !== 'object' || body === null) return false;
  const error = (body as { error?: unknown }).error;
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { code?: unknown }).code === 'string' &&
    typeof (error as { message?: unknown }).message === 'string'
  );
}

/** `jobs.waitFor` ran past its `timeoutMs`; the job itself is untouched and still running or queued. */
export class PopoTimeoutError extends Error {
  override readonly name = 'PopoTimeoutError';

  constructor(
    readonly jobId: string,
    readonly lastStatus: string | undefined,
    readonly timeoutMs: number,
  ) {
    super(`timed out after ${timeoutMs} ms waiting for job ${jobId} (status ${lastStatus ?? 'unknown'})`);
  }
}
