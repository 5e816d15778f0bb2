import type { MigrationInterface } from 'typeorm';
import { Init1795378215131 } from '../../migrations/1795378215131-Init.js';
import { Completions1795890577625 } from '../../migrations/1795890577625-Completions.js';

/**
 * Listed explicitly rather than globbed so the same list works from TypeScript sources (tests, CLI) and from
 * the compiled dist/ tree. Append new migrations in timestamp order.
 */
export const MIGRATIONS: (new () => MigrationInterface)[] = [Init1795378215131, Completions1795890577625];
