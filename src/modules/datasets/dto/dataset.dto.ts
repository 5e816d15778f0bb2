import { ApiProperty } from '@nestjs/swagger';
import { QueryInt } from '../../../common/dto-decorators.js';
import { IsOptional, IsString, Length } from 'class-validator';
import { PageQuery } from '../../../common/pagination.js';

export class UploadDatasetQuery {
  @ApiProperty({ minLength: 1, maxLength: 200, description: 'Display name of the dataset.' })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiProperty({
    required: false,
    minLength: 1,
    maxLength: 200,
    description:
      'The field of each line that holds the problem (e.g. GSM8K `question`); default `problem`. Stored as `problem`.',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  problem_field?: string;

  @ApiProperty({
    required: false,
    minLength: 1,
    maxLength: 200,
    description:
      'The field that holds the reference answer (e.g. OlympiadBench `final_answer`, a list); default `answer`. ' +
      'Stored as `answer`.',
  })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  answer_field?: string;
}

export class ListDatasetsQuery extends PageQuery {}

export class DatasetRowsQuery {
  @QueryInt({ min: 0 }, { default: 0 })
  offset?: number;

  @QueryInt({ min: 1, max: 1000 }, { default: 100 })
  limit?: number;
}

export class DatasetRowDto {
  @ApiProperty({ type: 'integer', description: '0-based position in the upload.' }) idx: number;
  @ApiProperty() problem: string;
  @ApiProperty() answer: string;
  @ApiProperty({ type: 'object', additionalProperties: true, nullable: true }) extra: Record<
    string,
    unknown
  > | null;
}

export class DatasetDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) project_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: 'integer' }) row_count: number;
  @ApiProperty({ type: 'integer' }) size_bytes: number;
  @ApiProperty({ description: 'sha256 of the uploaded bytes (hex).' }) sha256: string;
  @ApiProperty({ type: [String], description: 'Fields seen besides problem and answer.' })
  extra_fields: string[];
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
}

export class DatasetDetailDto extends DatasetDto {
  @ApiProperty({ type: [DatasetRowDto], description: 'The first rows.' }) sample: DatasetRowDto[];
}

export class DatasetPageDto {
  @ApiProperty({ type: [DatasetDto] }) items: DatasetDto[];
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}

export class DatasetRowsDto {
  @ApiProperty({ type: [DatasetRowDto] }) items: DatasetRowDto[];
  @ApiProperty({ type: 'integer' }) total: number;
}
