import { ApiProperty } from '@nestjs/swagger';
import { JobDto } from './job.dto.js';

export class SweepDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) project_id: string;
  @ApiProperty({ type: String, nullable: true }) name: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true }) base: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'array', items: {} } }) grid: Record<
    string,
    unknown[]
  >;
  @ApiProperty({ type: 'integer' }) job_count: number;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
  @ApiProperty({ type: [JobDto] }) jobs: JobDto[];
}
