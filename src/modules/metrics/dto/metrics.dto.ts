import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { QueryInt } from '../../../common/dto-decorators.js';

export class MetricsQuery {
  @QueryInt({ min: 0 }, { description: 'First step to return (inclusive).' })
  fromStep?: number;

  @QueryInt({ min: 1, max: 10000 }, { default: 1000 })
  limit?: number;

  @QueryInt({ min: 1 }, { description: 'Every N-th step only (plus the last step).' })
  every?: number;

  @QueryInt(
    { min: 1, max: 10000 },
    {
      description:
        'At most N points: steps are grouped into N equal buckets and numeric values averaged per bucket.',
    },
  )
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
  values: Record<string, unknown>;
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
