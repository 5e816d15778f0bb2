import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class MetricsQuery {
  @ApiPropertyOptional({ minimum: 0, description: 'First step to return (inclusive).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  fromStep?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: 10000, default: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  limit?: number;

  @ApiPropertyOptional({ minimum: 1, description: 'Every N-th step only (plus the last step).' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  every?: number;

  @ApiPropertyOptional({
    minimum: 1,
    maximum: 10000,
    description:
      'At most N points: steps are grouped into N equal buckets and numeric values averaged per bucket.',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10000)
  points?: number;
}

export class MetricPointDto {
  @ApiProperty({ type: 'integer', description: 'The step (for buckets: the last step in the bucket).' })
  step: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      "The step's record without `step`: the common core (algorithm, loss, grad_norm, lr, completion_length, " +
      'tokens_per_second, step_seconds, backend; reward_mean, pass_rate, entropy for RL) plus the fields of its ' +
      'algorithm (docs/algorithm.md, "Step metrics").',
  })
  values: Record<string, number | string>;
  @ApiPropertyOptional({ type: 'integer', description: 'Buckets only: first step in the bucket.' })
  step_from?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'Buckets only: number of steps averaged.' })
  count?: number;
}

export class MetricsDto {
  @ApiProperty({ type: [MetricPointDto] }) items: MetricPointDto[];
  @ApiProperty({ type: 'integer', description: 'Steps recorded for the job in total.' }) total_steps: number;
  @ApiProperty({ type: 'integer', nullable: true, description: 'Last step recorded.' }) last_step:
    number | null;
}
