import { applyDecorators } from '@nestjs/common';
import { ApiDefaultResponse, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ErrorDetailDto {
  @ApiProperty({ example: 'popo.tau' }) field: string;
  @ApiProperty({ example: 'must be a number > 0 and < 1' }) reason: string;
}

export class ErrorInfoDto {
  @ApiProperty({
    example: 'validation_failed',
    description:
      'validation_failed, malformed_json, unauthorized, forbidden, not_found, conflict, invalid_state, ' +
      'idempotency_key_reused, dataset_in_use, model_in_use, model_exists, payload_too_large, ' +
      'unsupported_media_type, rate_limited, checkpoint_corrupt, internal_error, database_unavailable and ' +
      'service_unavailable (503 with Retry-After: a dependency is down; retry later)',
  })
  code: string;
  @ApiProperty() message: string;
  @ApiPropertyOptional({ type: [ErrorDetailDto] }) details?: ErrorDetailDto[];
}

export class ErrorResponseDto {
  @ApiProperty({ type: ErrorInfoDto }) error: ErrorInfoDto;
}

/** Every operation documents the one error shape as its default response. */
export const ApiErrors = () =>
  applyDecorators(
    ApiDefaultResponse({ type: ErrorResponseDto, description: 'Any error: 4xx/5xx with this body.' }),
  );
