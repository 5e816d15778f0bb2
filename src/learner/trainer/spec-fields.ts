import { z } from 'zod';

/**
 * The field builders of the run spec (./run-spec.ts) and of documents beside it (the reward spec, the service's
 * fields): one bounded-number rule, one message per kind of mistake. Their own file so that a spec the run
 * embeds (rewards) can use them without importing the run spec.
 */

export interface Bounds {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  /** Require an integer. */
  int?: boolean;
}

/** "must be a number > 0 and < 1", "must be an integer >= 2": the one reason users see for a bad number. */
export function describeBounds(b: Bounds): string {
  const parts = [
    b.gt !== undefined ? `> ${b.gt}` : b.gte !== undefined ? `>= ${b.gte}` : undefined,
    b.lt !== undefined ? `< ${b.lt}` : b.lte !== undefined ? `<= ${b.lte}` : undefined,
  ].filter((p): p is string => p !== undefined);
  const what = b.int ? 'an integer' : 'a number';
  return parts.length ? `must be ${what} ${parts.join(' and ')}` : `must be ${what}`;
}

/** A bounded number whose every failure (wrong type, fraction, out of range) reports the whole rule once. */
export function num(b: Bounds, description: string) {
  const error = describeBounds(b);
  let s = z.number({ error });
  if (b.int) s = s.int({ error });
  if (b.gt !== undefined) s = s.gt(b.gt, { error });
  if (b.gte !== undefined) s = s.gte(b.gte, { error });
  if (b.lt !== undefined) s = s.lt(b.lt, { error });
  if (b.lte !== undefined) s = s.lte(b.lte, { error });
  return s.meta({ description });
}

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, description: string) =>
  z.enum(values, { error: `must be one of: ${values.join(', ')}` }).meta({ description });

export const bool = (description: string) =>
  z.boolean({ error: 'must be true or false' }).meta({ description });

export const text = (description: string, max = 4096) =>
  z
    .string({ error: 'must be a string' })
    .min(1, { error: 'must not be empty' })
    .max(max, { error: `must be at most ${max} characters` })
    .meta({ description });

/** An object section: unknown keys are errors (a typo must not fall back to a default silently). */
export const section = <S extends z.ZodRawShape>(shape: S, description: string) =>
  z.strictObject(shape, { error: 'must be an object' }).meta({ description });

/** The field builders, for documents that add fields beside the run (the service's name, priority, ...). */
export const field = { num, oneOf, bool, text, section };
