import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { finalize, type Observable } from 'rxjs';
import { AppConfig } from '../config/index.js';
import type { AuthedRequest } from '../modules/auth/principal.js';
import { ApiError } from './api-error.js';

/** Uploads in flight per API key, in this process. */
@Injectable()
export class UploadSlots {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly config: AppConfig) {}

  /** Uploads in flight over all keys. */
  get active(): number {
    let n = 0;
    for (const v of this.inFlight.values()) n += v;
    return n;
  }

  get limit(): number {
    return this.config.limits.uploadsPerKey;
  }

  /** A release function, or undefined when `key` already has `limit` uploads running. */
  acquire(key: string): (() => void) | undefined {
    const n = this.inFlight.get(key) ?? 0;
    if (n >= this.limit) return undefined;
    this.inFlight.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left > 0) this.inFlight.set(key, left);
      else this.inFlight.delete(key);
    };
  }
}

/**
 * Caps concurrent uploads per API key (MAX_CONCURRENT_UPLOADS_PER_KEY): a streamed upload holds a request, a
 * temporary file and, at its end, a database transaction, so one key must not be able to open dozens.
 */
@Injectable()
export class UploadLimitInterceptor implements NestInterceptor {
  constructor(private readonly slots: UploadSlots) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
    const key = principal?.kind === 'project' ? principal.keyId : 'admin';
    const release = this.slots.acquire(key);
    if (!release)
      throw new ApiError(
        429,
        'too_many_uploads',
        `this API key already has ${this.slots.limit} upload(s) in progress; retry when one has finished`,
      );
    return next.handle().pipe(finalize(release));
  }
}
