import { ApiProperty } from '@nestjs/swagger';
import { QueryInt } from '../../../common/dto-decorators.js';

export class ListEventsQuery {
  @QueryInt(
    { min: 0, max: Number.MAX_SAFE_INTEGER },
    { description: 'Only events with a larger id (for polling).' },
  ) // a bigint column
  after?: number;

  @QueryInt({ min: 1, max: 1000 }, { default: 100 })
  limit?: number;
}

export class JobEventDto {
  @ApiProperty({ type: 'integer' }) id: number;
  @ApiProperty({ format: 'uuid' }) job_id: string;
  @ApiProperty({ enum: ['info', 'warning', 'error'] }) level: string;
  @ApiProperty({ example: 'status' }) code: string;
  @ApiProperty() message: string;
  @ApiProperty({ type: 'integer', nullable: true }) step: number | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) data: Record<
    string,
    unknown
  > | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
}
