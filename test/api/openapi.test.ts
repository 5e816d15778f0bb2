import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateOpenApi } from '../../src/apps/bootstrap-api.js';
import { loadConfig } from '../../src/config/index.js';

describe('openapi.json', () => {
  it('is up to date with the controllers and DTOs (run `npm run openapi` after changing the API)', async () => {
    const committed = JSON.parse(readFileSync(new URL('../../openapi.json', import.meta.url), 'utf8'));
    const current = JSON.parse(JSON.stringify(await generateOpenApi(loadConfig({}))));
    expect(current).toEqual(committed);
  });

  it('documents the error shape and the hyperparameter bounds', async () => {
    const doc = await generateOpenApi(loadConfig({}));
    const schemas = doc.components?.schemas as Record<
      string,
      { properties: Record<string, { properties: Record<string, unknown> }> }
    >;
    expect(schemas.JobRequest.properties.popo.properties.tau).toMatchObject({
      minimum: 0,
      exclusiveMinimum: true,
      maximum: 1,
      exclusiveMaximum: true,
    });
    expect(schemas.ErrorResponseDto.properties.error).toBeDefined();
    const createJob = doc.paths['/v1/jobs'].post!;
    expect(Object.keys(createJob.responses)).toEqual(expect.arrayContaining(['201', '200', 'default']));
    expect(createJob.requestBody).toMatchObject({
      content: { 'application/json': { schema: { $ref: '#/components/schemas/JobRequest' } } },
    });
  });
});
