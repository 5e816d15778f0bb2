import type { z } from 'zod';
import { FieldError } from '../field-error.js';
import { trainConfigSchema } from './run-spec.js';
import type { TrainConfig } from './types.js';

/**
 * Defaults and validation of a run, both derived from the run spec (./run-spec.ts). POPO's defaults are the
 * authors' run (α .1, β .01, τ .995, σ .02, G 8, clip 1); the rest are common RLVR settings.
 */

export interface ConfigIssue {
  field: string;
  reason: string;
}

/** Every bad field of a run at once; `field`/`reason` (FieldError) are the first issue's. */
export class ConfigError extends FieldError {
  constructor(readonly issues: ConfigIssue[]) {
    super(issues[0]?.field ?? 'config', issues[0]?.reason ?? 'is invalid');
    this.message = `invalid training config: ${issues.map((i) => `${i.field} ${i.reason}`).join('; ')}`;
  }
}

/**
 * zod issues → {field, reason} with dotted field names, in the wording the API and the CLI print: the spec's own
 * messages for numbers and enums, "is required", "must be an object", "is not a known field".
 */
export function issuesOf(error: z.ZodError): ConfigIssue[] {
  return error.issues.flatMap((i): ConfigIssue[] => {
    const field = i.path.join('.') || '(root)';
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => ({ field: [...i.path, k].join('.'), reason: 'is not a known field' }));
    if (i.code === 'invalid_type' && (i as { input?: unknown }).input === undefined)
      return [{ field, reason: 'is required' }];
    if (i.code === 'invalid_type' && i.expected === 'object') return [{ field, reason: 'must be an object' }];
    return [{ field, reason: i.message }];
  });
}

/** Parses `value` with one of the run spec's schemas; throws ConfigError listing every bad field with its reason. */
export function parseRun<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const res = schema.safeParse(value ?? {}, { reportInput: true });
  if (!res.success) throw new ConfigError(issuesOf(res.error));
  return res.data;
}

/** Fills defaults and validates a trainer input; unknown keys anywhere are errors. */
export function resolveConfig(partial: unknown): TrainConfig {
  return parseRun(trainConfigSchema, partial);
}

/** Every default of the spec (the default model and task included). */
export const DEFAULT_CONFIG: Readonly<TrainConfig> = Object.freeze(resolveConfig({}));
