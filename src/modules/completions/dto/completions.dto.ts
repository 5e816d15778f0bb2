import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';
import { QueryInt } from '../../../common/dto-decorators.js';

export class CompletionsQuery {
  @QueryInt({ min: 1 }, { description: 'The step whose completions to return (default: the latest).' })
  step?: number;

  @ApiPropertyOptional({ description: 'Follow one prompt: its completions at every step that sampled it.' })
  @IsOptional()
  @IsString()
  @Length(1, 10_000)
  prompt?: string;

  @QueryInt({ min: 1, max: 1000 }, { default: 200 })
  limit?: number;
}

export class CompletionDto {
  @ApiProperty({ type: 'integer' }) step: number;
  @ApiProperty({ type: 'integer', description: 'The prompt`s index within the step.' }) prompt_index: number;
  @ApiProperty({ type: 'integer', description: 'The sample`s index within its group of G.' })
  sample_index: number;
  @ApiProperty() prompt: string;
  @ApiProperty() answer: string;
  @ApiProperty() completion: string;
  @ApiProperty() reward: number;
  @ApiProperty({ description: 'Judged correct by the verifier.' }) positive: boolean;
  @ApiProperty({
    type: Number,
    nullable: true,
    description: 'The weight of the sample in the update (POPO`s w); null for algorithms without one.',
  })
  weight: number | null;
}

export class CompletionsDto {
  @ApiProperty({
    type: [Number],
    description: 'Steps that have stored completions, ascending (the last 2000).',
  })
  steps: number[];
  @ApiProperty({ type: [CompletionDto] }) items: CompletionDto[];
}
