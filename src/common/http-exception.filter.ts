import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { ApiError, CODE_BY_STATUS, type ErrorBody } from './api-error.js';
import { isTransientDbError, pgErrorCode } from './pg-errors.js';
import { DependencyTimeoutError } from './retry.js';

/** Seconds a 503 asks the client to wait (`Retry-After`): about one reconnect cycle of the pools. */
export const RETRY_AFTER_S = 5;

/** body-parser / raw-body errors carry `type` and `status` instead of being HttpExceptions. */
interface ParserError {
  type?: string;
  status?: number;
  statusCode?: number;
  message?: string;
  limit?: number;
}

/** Renders any error in the service's one error shape: `{ error: { code, message, details? } }`. */
export function toErrorBody(exception: unknown): { status: number; body: ErrorBody } {
  if (exception instanceof ApiError) return { status: exception.getStatus(), body: exception.body() };
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const res = exception.getResponse();
    let message = exception.message;
    if (typeof res === 'object' && res !== null && 'message' in res) {
      const m = (res as { message: unknown }).message;
      message = Array.isArray(m) ? m.join('; ') : String(m);
    }
    return { status, body: { error: { code: CODE_BY_STATUS[status] ?? `http_${status}`, message } } };
  }
  const pe = (exception ?? {}) as ParserError;
  if (pe.type === 'entity.parse.failed')
    return {
      status: 400,
      body: { error: { code: 'malformed_json', message: `malformed JSON body: ${pe.message}` } },
    };
  if (pe.type === 'entity.too.large')
    return {
      status: 413,
      body: {
        error: {
          code: 'payload_too_large',
          message: `request body exceeds the limit of ${pe.limit} bytes`,
        },
      },
    };
  // Postgres class 22 (data exception: a value out of range, NUL in text, a bad cast) means input got past
  // validation; it is still the request's fault, so a 400 rather than a 500. The filter logs it as a gap.
  const sqlState = pgErrorCode(exception);
  if (sqlState?.startsWith('22'))
    return {
      status: 400,
      body: {
        error: { code: 'invalid_input', message: 'a value in the request cannot be stored or compared' },
      },
    };
  // Postgres or Redis is down, restarting or not answering: nothing is wrong with the request; try again.
  if (exception instanceof DependencyTimeoutError)
    return {
      status: 503,
      body: {
        error: { code: 'service_unavailable', message: `${exception.message}; retry shortly` },
      },
    };
  if (isTransientDbError(exception))
    return {
      status: 503,
      body: {
        error: {
          code: 'database_unavailable',
          message: 'the database is unavailable (restarting or unreachable); retry shortly',
        },
      },
    };
  const status = pe.status ?? pe.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return {
      status,
      body: {
        error: { code: CODE_BY_STATUS[status] ?? `http_${status}`, message: pe.message ?? 'bad request' },
      },
    };
  return { status: 500, body: { error: { code: 'internal_error', message: 'internal server error' } } };
}

@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    const { status, body } = toErrorBody(exception);
    if (body.error.code === 'invalid_input')
      this.logger.warn(`input reached Postgres unvalidated: ${(exception as Error).message}`);
    if (status === 503)
      // A dependency outage: one line per request, not a stack trace each.
      this.logger.warn(`503 ${body.error.code}: ${(exception as Error)?.message ?? body.error.message}`);
    else if (status >= 500)
      // Our own 5xx (checkpoint_corrupt, queue_unavailable) are expected failures: their message says it all.
      this.logger.error(
        exception instanceof ApiError
          ? `${exception.code}: ${exception.message}`
          : exception instanceof Error
            ? (exception.stack ?? exception.message)
            : exception,
      );
    // A streamed download that fails midway has already sent its headers: the only honest signal left is to
    // cut the connection so the client sees a truncated body rather than a success.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 503) res.setHeader('Retry-After', String(RETRY_AFTER_S));
    res.status(status).json(body);
  }
}
