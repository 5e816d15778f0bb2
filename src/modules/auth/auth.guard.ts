import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { forbidden, unauthorized } from '../../common/api-error.js';
import { ACCESS_KEY, type Access } from './auth.decorators.js';
import { ApiKeysService } from './api-keys.service.js';
import type { AuthedRequest } from './principal.js';

/** Global guard: every route needs a project key unless marked @Public() or @AdminOnly(). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    // Nest applies APP_GUARDs to WebSocket handlers too; the gateway authenticates its sockets itself.
    if (ctx.getType() !== 'http') return true;
    const access =
      this.reflector.getAllAndOverride<Access | undefined>(ACCESS_KEY, [ctx.getHandler(), ctx.getClass()]) ??
      'project';
    if (access === 'public') return true;

    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    if (!header) throw unauthorized('missing Authorization header: send "Authorization: Bearer <API key>"');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthorized('malformed Authorization header: expected "Bearer <API key>"');
    const principal = await this.keys.authenticate(match[1]);
    if (!principal) throw unauthorized('invalid or revoked API key');
    req.principal = principal;

    if (access === 'admin' && principal.kind !== 'admin')
      throw forbidden('this endpoint needs the admin key (POPO_ADMIN_KEY)');
    if (access === 'project' && principal.kind !== 'project')
      throw forbidden('this endpoint needs a project API key; the admin key only manages projects and keys');
    return true;
  }
}
