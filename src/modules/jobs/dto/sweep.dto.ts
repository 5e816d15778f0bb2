import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, Length, ValidateNested } from 'class-validator';
import { CreateJobDto } from './create-job.dto.js';
import { JobDto } from './job.dto.js';

export class CreateSweepDto {
  @ApiPropertyOptional({ maxLength: 200 })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  name?: string;

  @ApiProperty({ type: CreateJobDto, description: 'The job every grid point starts from.' })
  @IsObject({ message: 'must be an object' })
  @ValidateNested()
  @Type(() => CreateJobDto)
  base: CreateJobDto;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'array', items: {} },
    example: { 'popo.alpha': [0, 0.1], 'optimizer.lr': [1e-4, 3e-4] },
    description: 'Hyperparameter path → list of values; the sweep is the cartesian product.',
  })
  @IsObject({ message: 'must be an object of "section.field": [values]' })
  grid: Record<string, unknown[]>;
}

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
