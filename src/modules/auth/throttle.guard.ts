import { type ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard, type ThrottlerLimitDetail } from '@nestjs/throttler';
import { ApiError } from '../../common/api-error.js';
import type { AuthedRequest } from './principal.js';

/** Rate limits per API key (per client IP for anonymous routes), answered in the service's error shape. */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  // HTTP only: Nest also runs APP_GUARDs on WebSocket messages, where there is no response to set headers on.
  override async canActivate(ctx: ExecutionContext): Promise<boolean> {
    return ctx.getType() !== 'http' || super.canActivate(ctx);
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const principal = (req as unknown as AuthedRequest).principal;
    if (principal?.kind === 'project') return `key:${principal.keyId}`;
    if (principal?.kind === 'admin') return 'admin';
    return `ip:${(req as unknown as AuthedRequest).ip ?? 'unknown'}`;
  }

  protected override async throwThrottlingException(
    _ctx: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    throw new ApiError(
      429,
      'rate_limited',
      `rate limit of ${detail.limit} requests per ${Math.round(detail.ttl / 1000)} s exceeded for this key; retry in ${detail.timeToBlockExpire} s`,
    );
  }
}
