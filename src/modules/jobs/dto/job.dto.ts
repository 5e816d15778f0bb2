import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '../../../common/pagination.js';
import { JOB_KINDS, JOB_STATUSES } from '../../../database/entities/index.js';

export class ListJobsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: JOB_STATUSES })
  @IsOptional()
  @IsIn(JOB_STATUSES, { message: `must be one of: ${JOB_STATUSES.join(', ')}` })
  status?: (typeof JOB_STATUSES)[number];

  @ApiPropertyOptional({ enum: JOB_KINDS })
  @IsOptional()
  @IsIn(JOB_KINDS, { message: `must be one of: ${JOB_KINDS.join(', ')}` })
  kind?: (typeof JOB_KINDS)[number];

  @ApiPropertyOptional({ format: 'uuid' })
  @IsOptional()
  @IsUUID('all', { message: 'must be a UUID' })
  sweep_id?: string;
}

export class JobDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) project_id: string;
  @ApiProperty({ enum: JOB_KINDS }) kind: string;
  @ApiProperty({ enum: JOB_STATUSES }) status: string;
  @ApiProperty({ type: String, nullable: true }) name: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'Hyperparameters as submitted.' })
  config: Record<string, unknown>;
  @ApiProperty({ type: String, nullable: true }) model_builtin: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) model_id: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) dataset_id: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) task: Record<
    string,
    unknown
  > | null;
  @ApiProperty({ type: 'integer' }) priority: number;
  @ApiProperty({ type: 'integer', description: 'Times a worker has started this job.' }) attempts: number;
  @ApiProperty({ type: String, nullable: true }) error: string | null;
  @ApiProperty({ type: String, nullable: true }) idempotency_key: string | null;
  @ApiProperty({ type: String, nullable: true, enum: ['pause', 'cancel'] }) stop_requested: string | null;
  @ApiProperty({ type: 'integer' }) progress_step: number;
  @ApiProperty({ type: 'integer', nullable: true }) total_steps: number | null;
  @ApiProperty({ type: String, nullable: true }) backend: string | null;
  @ApiProperty({ type: String, nullable: true }) device: string | null;
  @ApiProperty({ type: String, nullable: true }) worker_id: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) sweep_id: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) sweep_index: number | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) parent_job_id: string | null;
  @ApiProperty({ type: String, format: 'uuid', nullable: true }) from_checkpoint_id: string | null;
  @ApiProperty({ type: String, nullable: true }) webhook_url: string | null;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) result: Record<
    string,
    unknown
  > | null;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: Date;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) started_at: Date | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) finished_at: Date | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) heartbeat_at: Date | null;
}

export class JobPageDto {
  @ApiProperty({ type: [JobDto] }) items: JobDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}
