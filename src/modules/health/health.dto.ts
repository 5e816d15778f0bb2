import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class DependencyHealthDto {
  @ApiProperty() ok: boolean;
  @ApiProperty({ description: 'False when the service runs without it (embedded mode has no Redis).' })
  configured: boolean;
  @ApiPropertyOptional({ type: 'number' }) latency_ms?: number;
  @ApiPropertyOptional() error?: string;
}

export class WorkerHealthDto {
  @ApiProperty() id: string;
  @ApiProperty({ type: String, nullable: true }) host: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'cuda:0' }) device: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'tensorflow-gpu' }) backend: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The job it is running, if any.' }) job:
    string | null;
  @ApiProperty({ type: 'integer', description: 'Seconds until the heartbeat expires.' }) ttl_s: number;
}

export class HealthDto {
  @ApiProperty({ enum: ['ok', 'degraded'] }) status: 'ok' | 'degraded';
  @ApiProperty({ type: DependencyHealthDto }) database: DependencyHealthDto;
  @ApiProperty({ type: DependencyHealthDto }) redis: DependencyHealthDto;
  @ApiProperty({ type: [WorkerHealthDto] }) workers: WorkerHealthDto[];
}
