import { z } from 'zod';
import { validationFailed } from '../../common/api-error.js';
import { ConfigError, parseRun } from '../../learner/trainer/config.js';
import { DATA_SOURCES, field, MODEL_REFS, runDocument } from '../../learner/trainer/run-spec.js';

/**
 * POST /v1/jobs: the run document (src/learner/trainer/run-spec.ts) with the model and the examples referenced
 * by id instead of by local path, plus the fields that only a service job has. Validation and the OpenAPI
 * schema both come from this one zod schema.
 */
export const JOB_MODES = ['train', 'eval'] as const;

const serviceFields = {
  name: field.text('A label for the job.', 200).optional(),
  mode: field
    .oneOf(
      JOB_MODES,
      '`train` runs the algorithm; `eval` only measures the model (or the checkpoint) on the data.',
    )
    .default('train'),
  priority: field.num({ int: true, gte: 0, lte: 1_000_000 }, 'Lower runs first.').default(0),
  webhook_url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048, { error: 'must be at most 2048 characters' })
    .meta({ description: 'Receives an HMAC-signed POST when the job reaches a terminal state.' })
    .optional(),
  from_checkpoint: field
    .section(
      {
        job_id: z
          .uuid({ error: 'must be a UUID' })
          .meta({ description: 'The job whose checkpoint to start from.' }),
        step: field
          .num({ int: true, gte: 0, lte: 10_000_000 }, 'Checkpoint step; the latest when omitted.')
          .optional(),
      },
      'Start from another job`s checkpoint; model and data default to that job`s.',
    )
    .optional(),
};

export const SERVICE_ONLY_FIELDS = Object.keys(serviceFields) as readonly (keyof typeof serviceFields)[];

export const jobRequestSchema = runDocument(MODEL_REFS.service, DATA_SOURCES.service, serviceFields);
export type JobRequest = z.output<typeof jobRequestSchema>;

/** Parses a request body with `schema`; a 400 naming every bad field otherwise. */
function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw validationFailed([{ field: 'body', reason: 'must be a JSON object' }]);
  try {
    return parseRun(schema, body);
  } catch (e) {
    if (e instanceof ConfigError) throw validationFailed(e.issues);
    throw e;
  }
}

export const parseJobRequest = (body: unknown): JobRequest => parseBody(jobRequestSchema, body);

export const sweepRequestSchema = z.strictObject({
  name: field.text('A label for the sweep.', 200).optional(),
  base: z
    .record(z.string(), z.unknown(), { error: 'must be an object' })
    .meta({ description: 'The job every grid point starts from (a JobRequest).' }),
  grid: z.record(z.string(), z.unknown(), { error: 'must be an object of "section.field": [values]' }).meta({
    description: 'Run field path → list of values; the sweep is the cartesian product.',
    example: { 'popo.alpha': [0, 0.1], 'optimizer.lr': [1e-4, 3e-4] },
  }),
});
export type SweepRequest = z.output<typeof sweepRequestSchema>;
export const parseSweepRequest = (body: unknown): SweepRequest => parseBody(sweepRequestSchema, body);

/** The request schemas as OpenAPI components (`npm run openapi` writes them into openapi.json). */
export function requestSchemasForOpenApi(): Record<string, object> {
  const opts = { target: 'openapi-3.0', io: 'input', unrepresentable: 'any' } as const;
  const sweep = z.toJSONSchema(sweepRequestSchema, opts) as { properties: Record<string, object> };
  sweep.properties.base = { ...sweep.properties.base, allOf: [{ $ref: '#/components/schemas/JobRequest' }] };
  return { JobRequest: z.toJSONSchema(jobRequestSchema, opts), SweepRequest: sweep };
}
