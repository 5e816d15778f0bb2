import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';

export class CreateProjectDto {
  @ApiProperty({ minLength: 1, maxLength: 200 })
  @IsString()
  @Length(1, 200)
  name: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 1000, description: 'Cap on concurrently running jobs.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  max_running_jobs?: number;
}

export class CreateKeyDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'ci' })
  @IsString()
  @Length(1, 200)
  name: string;
}

export class ProjectDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: 'integer', nullable: true }) max_running_jobs: number | null;
  @ApiProperty({ description: 'HMAC-SHA256 key for verifying this project`s webhook signatures.' })
  webhook_secret: string;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) project_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'First characters of the token.' }) prefix: string;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) last_used_at: Date | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revoked_at: Date | null;
}

export class CreatedKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() prefix: string;
  @ApiProperty({ description: 'The bearer token. Shown only in this response.' }) token: string;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
}

export class MeDto {
  @ApiProperty({ type: ProjectDto }) project: ProjectDto;
  @ApiProperty({ format: 'uuid' }) key_id: string;
}
