import { describeBounds, type Bounds } from '../learner/trainer/run-spec.js';
import { registerDecorator, type ValidationOptions } from 'class-validator';

export type RangeSpec = Bounds;

/** "must be a number > 0 and < 1", "must be an integer >= 2": the run spec's wording, for every DTO too. */
export const describeRange = describeBounds;

export function inRange(value: unknown, spec: RangeSpec): boolean {
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (spec.int && !Number.isInteger(value)) return false;
  if (spec.gt !== undefined && !(value > spec.gt)) return false;
  if (spec.gte !== undefined && !(value >= spec.gte)) return false;
  if (spec.lt !== undefined && !(value < spec.lt)) return false;
  if (spec.lte !== undefined && !(value <= spec.lte)) return false;
  return true;
}

/**
 * One decorator for type + bounds, so each bad number yields exactly one reason that states the whole rule
 * (class-validator's IsNumber + Min + Max would report up to three partial ones).
 */
export function Range(spec: RangeSpec, options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'range',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: describeRange(spec), ...options },
      constraints: [spec],
      validator: { validate: (value: unknown) => inRange(value, spec) },
    });
  };
}

/** Swagger schema keywords for a RangeSpec, so the spec shows the same bounds the validator enforces. */
export function rangeSchema(spec: RangeSpec): Record<string, unknown> {
  return {
    type: spec.int ? 'integer' : 'number',
    ...(spec.gt !== undefined ? { minimum: spec.gt, exclusiveMinimum: true } : {}),
    ...(spec.gte !== undefined ? { minimum: spec.gte } : {}),
    ...(spec.lt !== undefined ? { maximum: spec.lt, exclusiveMaximum: true } : {}),
    ...(spec.lte !== undefined ? { maximum: spec.lte } : {}),
  };
}
