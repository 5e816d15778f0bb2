import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsBoolean, IsIn, IsObject, IsOptional, ValidateNested } from 'class-validator';
import { Range, rangeSchema, type RangeSpec } from './validators.js';

interface FieldDoc {
  description?: string;
  example?: unknown;
  default?: unknown;
}

/** An optional number with bounds: one validator, one reason, and the same bounds in the OpenAPI schema. */
export const OptionalNumber = (spec: RangeSpec, doc: FieldDoc = {}) =>
  applyDecorators(ApiPropertyOptional({ ...rangeSchema(spec), ...doc }), IsOptional(), Range(spec));

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

/** An optional nested section validated as its own DTO (`popo: {...}`). */
export const OptionalSection = (cls: () => new () => object, doc: FieldDoc = {}) =>
  applyDecorators(
    // Resolved now (not lazily): swagger writes an empty $ref for lazy nested types in this version.
    ApiPropertyOptional({ type: cls(), ...doc }),
    IsOptional(),
    IsObject({ message: 'must be an object' }),
    ValidateNested(),
    Type(cls),
  );
