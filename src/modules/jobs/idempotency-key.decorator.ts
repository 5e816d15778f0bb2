import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { invalidField } from '../../common/api-error.js';

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The optional `Idempotency-Key` header: 1–255 visible ASCII characters. */
export const IdempotencyKey = createParamDecorator(
  (_: unknown, ctx: ExecutionContext): string | undefined => {
    const value = ctx.switchToHttp().getRequest<Request>().headers['idempotency-key'];
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !KEY.test(value))
      throw invalidField('Idempotency-Key', 'must be 1-255 visible ASCII characters (no spaces)');
    return value;
  },
);
