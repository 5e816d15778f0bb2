import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  ValidateNested,
} from 'class-validator';

/** Most samples one dry run scores (the math verifier runs on the API's thread, up to its timeout each). */
export const MAX_REWARD_SAMPLES = 64;

export class RewardSampleDto {
  @ApiProperty({ maxLength: 65_536 })
  @IsString()
  @MaxLength(65_536)
  prompt!: string;

  @ApiProperty({ maxLength: 262_144, description: 'The model output to score.' })
  @IsString()
  @MaxLength(262_144)
  completion!: string;

  @ApiProperty({ maxLength: 4096, description: 'The reference answer.' })
  @IsString()
  @MaxLength(4096)
  answer!: string;

  @ApiPropertyOptional({ type: [String], maxItems: 16, description: 'Further accepted answers.' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @MaxLength(4096, { each: true })
  answers?: string[];
}

export class RunRewardsDto {
  @ApiProperty({
    type: 'array',
    minItems: 1,
    maxItems: 16,
    items: { type: 'object', additionalProperties: true },
    description:
      'Reward components, each `{type, weight?, name?, ...}`: `math` (mode: strict | math_verify, ' +
      'last_number_fallback), `exact_match` (case_sensitive), `regex` (pattern with `{answer}`, flags) or `http` ' +
      '(url, timeout_ms, retries, concurrency, headers: POST {prompt, completion, answer} → {score} in [0, 1]).',
    example: [
      { type: 'math', mode: 'math_verify', weight: 2 },
      { type: 'regex', pattern: '\\\\boxed\\{' },
    ],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(16)
  @IsObject({ each: true })
  rewards!: Record<string, unknown>[];

  @ApiPropertyOptional({ minimum: 0, maximum: 1, default: 0.5 })
  @IsOptional()
  @IsNumber()
  positive_threshold?: number;

  @ApiProperty({ type: [RewardSampleDto], minItems: 1, maxItems: MAX_REWARD_SAMPLES })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_REWARD_SAMPLES)
  @ValidateNested({ each: true })
  @Type(() => RewardSampleDto)
  samples!: RewardSampleDto[];
}

const REWARD_TYPES = ['math', 'exact_match', 'regex', 'http'] as const;

export class ComponentScoreDto {
  @ApiProperty({ description: 'The component name (its `name`, else its type; repeated types get _2, _3).' })
  @IsString()
  name!: string;

  @ApiProperty({ enum: REWARD_TYPES })
  @IsIn(REWARD_TYPES)
  type!: (typeof REWARD_TYPES)[number];

  @ApiProperty()
  @IsNumber()
  weight!: number;

  @ApiProperty({ minimum: 0, maximum: 1 })
  @IsNumber()
  score!: number;

  @ApiProperty({ description: 'Why: e.g. "equivalent (symbolic)", "no match", "grader error: HTTP 503".' })
  @IsString()
  reason!: string;

  @ApiPropertyOptional({ description: 'The answer the component read from the completion.' })
  @IsOptional()
  @IsString()
  extracted?: string;

  @ApiPropertyOptional({ description: 'The component could not score (grader unreachable or malformed).' })
  @IsOptional()
  @IsBoolean()
  error?: boolean;

  @ApiPropertyOptional({ description: 'HTTP grader: the calls made, retries included.' })
  @IsOptional()
  @IsNumber()
  attempts?: number;
}

export class SampleScoreDto {
  @ApiProperty({ minimum: 0, maximum: 1, description: 'Weighted mean of the component scores.' })
  @IsNumber()
  score!: number;

  @ApiProperty({ description: 'score >= positive_threshold (POPO learns only from positives).' })
  @IsBoolean()
  positive!: boolean;

  @ApiProperty({ type: [ComponentScoreDto] })
  @ValidateNested({ each: true })
  @Type(() => ComponentScoreDto)
  components!: ComponentScoreDto[];
}

export class RunRewardsResultDto {
  @ApiProperty({ minimum: 0, maximum: 1 })
  @IsNumber()
  positive_threshold!: number;

  @ApiProperty({ type: [SampleScoreDto], description: 'One result per sample, in order.' })
  @ValidateNested({ each: true })
  @Type(() => SampleScoreDto)
  results!: SampleScoreDto[];

  @ApiProperty({ description: 'Mean of the sample scores.' })
  @IsNumber()
  mean_score!: number;

  @ApiProperty({ description: 'Share of samples that are positive.' })
  @IsNumber()
  positive_rate!: number;
}
