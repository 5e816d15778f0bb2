import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsObject, IsOptional, ValidateIf, ValidateNested } from 'class-validator';
import { Range, rangeSchema, type RangeSpec } from './validators.js';

interface FieldDoc {
  description?: string;
  example?: unknown;
  default?: unknown;
}

/** An optional number with bounds: one validator, one reason, and the same bounds in the OpenAPI schema. */
export const OptionalNumber = (spec: RangeSpec, doc: FieldDoc = {}) =>
  applyDecorators(ApiPropertyOptional({ ...rangeSchema(spec), ...doc }), IsOptional(), Range(spec));

/** The largest value of a Postgres `integer` column: query integers default to it as their upper bound. */
export const INT4_MAX = 2_147_483_647;

/**
 * An optional integer query parameter. Only plain decimal digits convert (not "1e20", "0x10", " " or "-0"), and
 * the bounds default to what an `integer` column holds, so no query value reaches Postgres out of range.
 */
export const QueryInt = (bounds: { min: number; max?: number }, doc: FieldDoc = {}) => {
  const spec: RangeSpec = { int: true, gte: bounds.min, lte: bounds.max ?? INT4_MAX };
  return applyDecorators(
    ApiPropertyOptional({ ...rangeSchema(spec), ...doc }),
    IsOptional(),
    Transform(
      ({ value }: { value: unknown }) =>
        typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value,
      {
        toClassOnly: true,
      },
    ),
    Range(spec),
  );
};

export const RequiredNumber = (spec: RangeSpec, doc: FieldDoc = {}) =>
  applyDecorators(ApiProperty({ ...rangeSchema(spec), ...doc }), Range(spec));

export const OptionalEnum = (values: readonly string[], doc: FieldDoc = {}) =>
  applyDecorators(
    ApiPropertyOptional({ enum: values, ...doc }),
    IsOptional(),
    IsIn(values, { message: `must be one of: ${values.join(', ')}` }),
  );

export const OptionalBoolean = (doc: FieldDoc = {}) =>
  applyDecorators(
    ApiPropertyOptional({ type: Boolean, ...doc }),
    IsOptional(),
    IsBoolean({ message: 'must be true or false' }),
  );

/**
 * Optional means absent, not null: IsOptional would let `null` through, and code reading `dto.eval?.k` is fine
 * but the stored config then holds `eval: null`, which the trainer cannot resolve.
 */
const OmittedOnly = () => ValidateIf((_o: object, value: unknown) => value !== undefined);

/** An optional nested section validated as its own DTO (`popo: {...}`); `null` is refused like any non-object. */
export const OptionalSection = (cls: () => new () => object, doc: FieldDoc = {}) =>
  applyDecorators(
    // Resolved now (not lazily): swagger writes an empty $ref for lazy nested types in this version.
    ApiPropertyOptional({ type: cls(), ...doc }),
    OmittedOnly(),
    IsObject({ message: 'must be an object' }),
    ValidateNested(),
    Type(cls),
  );
