import { ApiProperty } from '@nestjs/swagger';

export class CheckpointDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) job_id: string;
  @ApiProperty({ type: 'integer' }) step: number;
  @ApiProperty({ description: 'sha256 of the blob (hex).' }) sha256: string;
  @ApiProperty({ type: 'integer' }) size_bytes: number;
  @ApiProperty({ type: 'integer' }) chunk_count: number;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: Date;
}
