import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiError, forbidden, unauthorized } from '../../common/api-error.js';
import { AppConfig } from '../../config/index.js';
import { ACCESS_KEY, type Access } from './auth.decorators.js';
import { ApiKeysService } from './api-keys.service.js';
import type { AuthedRequest } from './principal.js';

const FAILURE_WINDOW_MS = 60_000;

/**
 * Failed authentications per client address in a fixed one-minute window. The key throttler runs after
 * authentication and keys on the key, so without this a client guessing keys would never be limited.
 */
class AuthFailures {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(private readonly limit: number) {}

  private window(ip: string, now: number) {
    const w = this.windows.get(ip);
    if (w && now - w.start < FAILURE_WINDOW_MS) return w;
    if (this.windows.size > 10_000)
      for (const [k, v] of this.windows) if (now - v.start >= FAILURE_WINDOW_MS) this.windows.delete(k);
    const fresh = { start: now, count: 0 };
    this.windows.set(ip, fresh);
    return fresh;
  }

  /** Seconds until `ip` may try again, or 0 when it may now. */
  blockedFor(ip: string, now = Date.now()): number {
    const w = this.window(ip, now);
    return w.count >= this.limit ? Math.ceil((w.start + FAILURE_WINDOW_MS - now) / 1000) : 0;
  }

  record(ip: string, now = Date.now()): void {
    this.window(ip, now).count++;
  }
}

/** Global guard: every route needs a project key unless marked @Public() or @AdminOnly(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly failures: AuthFailures;

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
    config: AppConfig,
  ) {
    this.failures = new AuthFailures(config.authFailuresPerMinute);
  }

  private tooManyFailures(retryS: number): ApiError {
    return new ApiError(
      429,
      'rate_limited',
      `too many failed authentications from this address; retry in ${retryS} s`,
    );
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    // Nest applies APP_GUARDs to WebSocket handlers too; the gateway authenticates its sockets itself.
    if (ctx.getType() !== 'http') return true;
    const access =
      this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [ctx.getHandler(), ctx.getClass()]) ??
      'project';
    if (access === 'public') return true;

    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const ip = req.ip ?? 'unknown';
    const blocked = this.failures.blockedFor(ip);
    if (blocked > 0) throw this.tooManyFailures(blocked);
    const header = req.headers.authorization;
    if (!header) throw unauthorized('missing Authorization header: send "Authorization: Bearer <API key>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized('malformed Authorization header: expected "Bearer <API key>"');
    const principal = await this.keys.authenticate(match[1]);
    if (!principal) {
      this.failures.record(ip);
      throw unauthorized('invalid or revoked API key');
    }
    req.principal = principal;

    if (access === 'admin' && principal.kind !== 'admin')
      throw forbidden('this endpoint needs the admin key (POPO_ADMIN_KEY)');
    if (access === 'project' && principal.kind !== 'project')
      throw forbidden('this endpoint needs a project API key; the admin key only manages projects and keys');
    return true;
  }
}
