import { describe, expect, it } from 'vitest';
import { RedactingQueryLogger } from './redacting-logger.js';

describe('RedactingQueryLogger', () => {
  it('logs failed and slow queries without their parameters', () => {
    const lines: string[] = [];
    const logger = new RedactingQueryLogger((level, m) => lines.push(`${level} ${m}`));
    const secret = 'whsec_0123456789abcdef';
    logger.logQueryError(new Error('duplicate key'), 'UPDATE projects SET webhook_secret = $1', [secret]);
    logger.logQuerySlow(900, 'SELECT * FROM api_keys WHERE key_hash = $1', { hash: 'deadbeef' });
    logger.logQuery('SELECT 1', [secret]);
    expect(lines).toEqual([
      'error query failed: UPDATE projects SET webhook_secret = $1 -- 1 parameter(s) redacted -- error: duplicate key',
      'warn query is slow (900 ms): SELECT * FROM api_keys WHERE key_hash = $1 -- 1 parameter(s) redacted',
    ]);
    expect(lines.join('\n')).not.toContain(secret);
  });
});
