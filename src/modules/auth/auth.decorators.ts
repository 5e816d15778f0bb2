import { createParamDecorator, type ExecutionContext, SetMetadata } from '@nestjs/common';
import { forbidden } from '../../common/api-error.js';
import type { AuthedRequest } from './principal.js';

export type Access = 'public' | 'admin' | 'project';
export const ACCESS_KEY = 'popo:access';

/** No key needed (health, docs). */
export const Public = () => SetMetadata(ACCESS_KEY, 'public' satisfies Access);
/** Only the admin key from POPO_ADMIN_KEY. Routes without a marker need a project key. */
export const AdminOnly = () => SetMetadata(ACCESS_KEY, 'admin' satisfies Access);

/** The calling key's project id; the guard has already refused anything but a project key. */
export const ProjectId = createParamDecorator((_: unknown, ctx: ExecutionContext): string => {
  const principal = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (principal?.kind !== 'project') throw forbidden('this endpoint needs a project API key');
  return principal.projectId;
});
