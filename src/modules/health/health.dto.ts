import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class DependencyHealthDto {
  @ApiProperty() ok: boolean;
  @ApiProperty({ description: 'False when the service runs without it (embedded mode has no Redis).' })
  configured: boolean;
  @ApiPropertyOptional({ type: 'number' }) latency_ms?: number;
  @ApiPropertyOptional() error?: string;
}

export class LearnerHealthDto {
  @ApiProperty({
    type: 'integer',
    nullable: true,
    description: 'The learner child process; null while none is up.',
  })
  pid: number | null;
  @ApiProperty({
    enum: ['starting', 'idle', 'running', 'restarting', 'down'],
    description:
      'starting (first boot), idle, running a job, restarting (a fresh process after a crash or a kill), down (could not start; retried with the next job).',
  })
  state: 'starting' | 'idle' | 'running' | 'restarting' | 'down';
  @ApiProperty({ description: 'When it entered this state (ISO 8601).' }) since: string;
}

export class LearnerCrashDto {
  @ApiProperty() at: string;
  @ApiProperty({ type: String, nullable: true, description: 'The job it was running.' }) job: string | null;
  @ApiProperty({
    example: 'LearnerCrashError: learner process 4121 was killed by SIGABRT; its last output: …',
  })
  error: string;
}

export class WorkerSlotHealthDto {
  @ApiProperty({ type: 'integer' }) index: number;
  @ApiProperty({ example: 'cuda:0' }) device: string;
  @ApiProperty({ type: String, nullable: true, example: 'wasm+blas' }) backend: string | null;
  @ApiProperty({ type: String, nullable: true }) job: string | null;
  @ApiProperty({ type: LearnerHealthDto }) learner: LearnerHealthDto;
  @ApiProperty({
    type: LearnerCrashDto,
    nullable: true,
    description: "The slot's last learner crash since boot.",
  })
  last_crash: LearnerCrashDto | null;
}

export class WorkerHealthDto {
  @ApiProperty() id: string;
  @ApiProperty({ type: String, nullable: true }) host: string | null;
  @ApiProperty({ type: 'integer', nullable: true, description: 'The worker process.' }) pid: number | null;
  @ApiProperty({ type: String, nullable: true, example: 'cuda:0' }) device: string | null;
  @ApiProperty({ type: String, nullable: true, example: 'tensorflow-gpu' }) backend: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The job it is running, if any.' }) job:
    string | null;
  @ApiProperty({ type: 'integer', description: 'Seconds until the heartbeat expires.' }) ttl_s: number;
  @ApiProperty({
    type: [WorkerSlotHealthDto],
    description: 'One per device slot, each with its learner process.',
  })
  slots: WorkerSlotHealthDto[];
}

export class HealthDto {
  @ApiProperty({ enum: ['ok', 'degraded'] }) status: 'ok' | 'degraded';
  @ApiProperty({ type: DependencyHealthDto }) database: DependencyHealthDto;
  @ApiProperty({ type: DependencyHealthDto }) redis: DependencyHealthDto;
  @ApiProperty({ type: [WorkerHealthDto] }) workers: WorkerHealthDto[];
}
