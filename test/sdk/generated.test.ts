import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateSchemaTypes, readSpec, SCHEMA_PATH } from '../../client/sdk/generate.js';

describe('client/sdk/generated', () => {
  it('matches openapi.json (run `npm run sdk:generate` after `npm run openapi`)', async () => {
    const fresh = await generateSchemaTypes(readSpec());
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(fresh);
  });

  it('regenerates differently when the spec changes (the check above can fail)', async () => {
    const spec = readSpec();
    const job = spec.components!.schemas!.JobDto as { properties: Record<string, unknown> };
    job.properties.added_for_test = { type: 'string' };
    const changed = await generateSchemaTypes(spec);
    expect(changed).not.toBe(readFileSync(SCHEMA_PATH, 'utf8'));
    expect(changed).toContain('added_for_test');
  });
});
