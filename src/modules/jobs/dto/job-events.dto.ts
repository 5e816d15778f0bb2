import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class ListEventsQuery {
  @ApiPropertyOptional({ description: 'Only events with a larger id (for polling).', minimum: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  after?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
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
