import type { Request } from 'express';

export type Principal = { kind: 'admin' } | { kind: 'project'; projectId: string; keyId: string };

/** What the auth guard attaches to each authenticated request. */
export interface AuthedRequest extends Request {
  principal?: Principal;
}
