import { HttpException, HttpStatus } from '@nestjs/common';

export interface ErrorDetail {
  /** Dotted path of the offending input: "popo.tau", "line 3.answer", "Authorization", "id". */
  field: string;
  reason: string;
}

/** The one error body every endpoint returns. */
export interface ErrorBody {
  error: { code: string; message: string; details?: ErrorDetail[] };
}

/** An HTTP error carrying its machine-readable code and field details; the global filter renders it. */
export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
  ) {
    super(message, status);
  }

  body(): ErrorBody {
    return {
      error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) },
    };
  }
}

export const validationFailed = (details: ErrorDetail[], message?: string) =>
  new ApiError(
    HttpStatus.BAD_REQUEST,
    'validation_failed',
    message ?? details.map((d) => `${d.field}: ${d.reason}`).join('; '),
    details,
  );

export const invalidField = (field: string, reason: string) => validationFailed([{ field, reason }]);

export const notFound = (what: string, id: string) =>
  new ApiError(HttpStatus.NOT_FOUND, 'not_found', `${what} ${id} not found`);

export const conflict = (code: string, message: string) => new ApiError(HttpStatus.CONFLICT, code, message);

export const payloadTooLarge = (message: string) =>
  new ApiError(HttpStatus.PAYLOAD_TOO_LARGE, 'payload_too_large', message);

export const unsupportedMediaType = (message: string) =>
  new ApiError(HttpStatus.UNSUPPORTED_MEDIA_TYPE, 'unsupported_media_type', message);

export const unauthorized = (message: string) =>
  new ApiError(HttpStatus.UNAUTHORIZED, 'unauthorized', message);

export const forbidden = (message: string) => new ApiError(HttpStatus.FORBIDDEN, 'forbidden', message);

export const serviceUnavailable = (code: string, message: string) =>
  new ApiError(HttpStatus.SERVICE_UNAVAILABLE, code, message);

export const internalError = (code: string, message: string) =>
  new ApiError(HttpStatus.INTERNAL_SERVER_ERROR, code, message);

/** Default codes for HttpExceptions thrown by Nest or libraries rather than by our code. */
export const CODE_BY_STATUS: Record<number, string> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
  429: 'rate_limited',
  500: 'internal_error',
  503: 'service_unavailable',
};
