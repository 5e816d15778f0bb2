import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { validationFailed, type ErrorDetail } from './api-error.js';

// class-validator's built-in messages start with the property name ("tau must be a number"); the field is
// reported separately, so the reason drops it. Unknown properties get a plainer wording.
function reasonOf(property: string, key: string, message: string): string {
  if (key === 'whitelistValidation') return 'is not a known field';
  if (key === 'nestedValidation') return 'must be an object';
  const prefix = `${property} `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}

/** Flattens class-validator's tree into one detail per failed constraint, with dotted field paths. */
export function flattenValidationErrors(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    // A missing required field fails every rule on it ("must be a string", "must be longer than ..."); one
    // plain reason says it better. Unknown fields (whitelist) are absent-looking too, but keep their own reason.
    if (e.value === undefined && e.constraints && !('whitelistValidation' in e.constraints))
      return [{ field, reason: 'is required' }];
    const own = Object.entries(e.constraints ?? {}).map(([key, msg]) => ({
      field,
      reason: reasonOf(e.property, key, msg),
    }));
    return [...own, ...flattenValidationErrors(e.children ?? [], field)];
  });
}

/** As flattenValidationErrors, minus repeated (field, reason) pairs (IsObject and ValidateNested both fire). */
export function validationDetails(errors: ValidationError[]): ErrorDetail[] {
  const seen = new Set<string>();
  return flattenValidationErrors(errors).filter((d) => {
    const k = `${d.field}\u0000${d.reason}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The global pipe: strict DTOs (unknown fields are errors), converted to class instances, errors in our shape. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    // Query strings arrive as text; DTOs declare @Type(() => Number) where they need numbers.
    transformOptions: { enableImplicitConversion: false },
    exceptionFactory: (errors) => validationFailed(validationDetails(errors)),
  });
}
