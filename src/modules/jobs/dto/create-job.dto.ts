import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, IsUrl, IsUUID, Length, ValidateNested } from 'class-validator';
import { OptionalNumber, OptionalSection, RequiredNumber } from '../../../common/dto-decorators.js';
import { JOB_KINDS, type JobKind } from '../../../database/entities/index.js';
import { HyperparametersDto } from './hyperparameters.dto.js';

export class ModelRefDto {
  @ApiPropertyOptional({ description: 'A built-in model name (GET /v1/models).', example: 'tiny-1m' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  builtin?: string;

  @ApiPropertyOptional({ format: 'uuid', description: 'A registered model of this project.' })
  @IsOptional()
  @IsUUID('all', { message: 'must be a UUID' })
  id?: string;
}

export class TaskSpecDto {
  @ApiProperty({ example: 'add' })
  @IsString()
  @Length(1, 200)
  name: string;

  @RequiredNumber({ int: true, gte: 1, lte: 10 })
  difficulty: number;

  @RequiredNumber({ int: true, gte: 1, lte: 10_000_000 })
  n_train: number;

  @RequiredNumber({ int: true, gte: 1, lte: 10_000_000 })
  n_test: number;
}

export class FromCheckpointDto {
  @ApiProperty({ format: 'uuid', description: 'The job whose checkpoint to start from.' })
  @IsUUID('all', { message: 'must be a UUID' })
  job_id: string;

  @OptionalNumber({ int: true, gte: 0 }, { description: 'Checkpoint step; the latest when omitted.' })
  step?: number;
}

export class CreateJobDto extends HyperparametersDto {
  @ApiProperty({ enum: JOB_KINDS })
  @IsIn(JOB_KINDS, { message: `must be one of: ${JOB_KINDS.join(', ')}` })
  kind: JobKind;

  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiPropertyOptional({
    type: ModelRefDto,
    description:
      'Exactly one of builtin or id. May be omitted with from_checkpoint (the parent`s model is used).',
  })
  @IsOptional()
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => ModelRefDto)
  model?: ModelRefDto;

  @ApiPropertyOptional({ format: 'uuid', description: 'A dataset of this project (or give `task`).' })
  @IsOptional()
  @IsUUID('all', { message: 'must be a UUID' })
  dataset_id?: string;

  @OptionalSection(() => TaskSpecDto, { description: 'A built-in task instead of a dataset.' })
  task?: TaskSpecDto;

  @OptionalNumber({ int: true, gte: 0, lte: 1_000_000 }, { description: 'Lower runs first.', default: 0 })
  priority?: number;

  @OptionalSection(() => FromCheckpointDto)
  from_checkpoint?: FromCheckpointDto;

  @ApiPropertyOptional({ description: 'Receives an HMAC-signed POST when the job reaches a terminal state.' })
  @IsOptional()
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false },
    { message: 'must be an http(s) URL' },
  )
  @Length(1, 2048)
  webhook_url?: string;
}
