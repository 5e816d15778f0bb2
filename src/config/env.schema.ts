// class-transformer's @Type reads decorator metadata; the config is the first thing every entry point loads.
import 'reflect-metadata';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';

export const PROCESS_MODES = ['api', 'worker', 'migrate', 'all', 'openapi'] as const;
export type ProcessMode = (typeof PROCESS_MODES)[number];

const MiB = 1024 * 1024;

// Empty strings in the environment mean "unset" (docker-compose writes FOO= for blanks).
const emptyToUndefined = () =>
  Transform(({ value }: { value: unknown }) => (value === '' ? undefined : value), { toClassOnly: true });

/**
 * The environment as validated input. Every variable the service reads is declared here and nowhere else;
 * `loadConfig` turns it into the typed AppConfig that the rest of the code injects.
 */
export class EnvironmentVariables {
  @IsOptional()
  @emptyToUndefined()
  @IsIn(PROCESS_MODES)
  POPO_MODE?: ProcessMode;

  @IsOptional()
  @emptyToUndefined()
  @Matches(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// URL' })
  DATABASE_URL?: string;

  @IsOptional()
  @emptyToUndefined()
  @Matches(/^rediss?:\/\//, { message: 'must be a redis:// URL' })
  REDIS_URL?: string;

  /** Namespace for every Redis key (BullMQ queues, worker heartbeats, pub/sub channels). */
  @Matches(/^[A-Za-z0-9:_-]{1,64}$/, {
    message: 'must be 1-64 characters of letters, digits, ":", "_" or "-"',
  })
  POPO_REDIS_PREFIX = 'popo';

  @IsOptional()
  @emptyToUndefined()
  @IsString()
  @MinLength(16, { message: 'must be at least 16 characters' })
  POPO_ADMIN_KEY?: string;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  @IsString()
  POPO_DATA_DIR = '.popo';

  /** The built dashboard served at `/` (default: dist/dashboard of the package, written by `npm run build`). */
  @IsOptional()
  @emptyToUndefined()
  @IsString()
  POPO_DASHBOARD_DIR?: string;

  /** Comma-separated directories under which `POST /v1/models` may register a local model. */
  @IsOptional()
  @emptyToUndefined()
  @IsString()
  POPO_MODEL_ROOTS?: string;

  /**
   * Comma-separated IPs/CIDRs that user-supplied URLs (webhooks, HTTP graders) may reach even though they are
   * loopback, private or link-local ("127.0.0.0/8,::1" for development). Unset: only public addresses.
   */
  @IsOptional()
  @emptyToUndefined()
  @IsString()
  POPO_OUTBOUND_ALLOW?: string;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  MAX_JSON_BODY_BYTES = 1 * MiB;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  MAX_DATASET_BYTES = 100 * MiB;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_DATASET_ROWS = 1_000_000;

  /** One JSONL line (one example); a longer line is refused with 413 naming it. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  MAX_DATASET_LINE_BYTES = 1 * MiB;

  /** Dataset and model uploads one API key may have in flight at once (per API process); 429 beyond. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  MAX_CONCURRENT_UPLOADS_PER_KEY = 2;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  MAX_MODEL_ARCHIVE_BYTES = 2048 * MiB;

  /** Bytes an archive may expand to; unset: MAX_MODEL_ARCHIVE_BYTES. A gzip bomb is refused as it expands. */
  @IsOptional()
  @emptyToUndefined()
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  MAX_MODEL_EXTRACTED_BYTES?: number;

  /** Entries (files and folders) one model archive may hold. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  MAX_MODEL_ARCHIVE_FILES = 1000;

  /** Disk one project's uploaded models may use together (extracted bytes); 413 beyond. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  PROJECT_STORAGE_BYTES = 20 * 1024 * MiB;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  MAX_SWEEP_JOBS = 64;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  RATE_LIMIT_PER_MINUTE = 600;

  /** Requests with an invalid or revoked key one client address may make per minute before 429s. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  AUTH_FAILURES_PER_MINUTE = 30;

  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(256 * MiB)
  CHECKPOINT_CHUNK_BYTES = 8 * MiB;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  DB_POOL_SIZE = 10;

  /** Seconds a worker heartbeat key lives in Redis; a worker is "live" while its key exists. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  WORKER_HEARTBEAT_TTL_S = 30;

  /**
   * How often every API and worker process compares Postgres (the truth) with the queue and re-enqueues or
   * finishes unfinished jobs that nobody owns; 0 turns the periodic sweep off (it still runs once at start).
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  POPO_RECONCILE_INTERVAL_MS = 30_000;

  /** A running or cancelling job whose heartbeat is older than this, and that has no queue entry, has no owner. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  POPO_RECONCILE_STALE_MS = 90_000;

  /** The longest a request waits on the queue (Redis) before it answers without it (or 503). */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  POPO_QUEUE_TIMEOUT_MS = 3_000;

  /**
   * Tokens one training step may sample and train on (group_size × prompts_per_step × (prompt + max_new_tokens));
   * a job asking for more is refused at creation naming those fields.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  POPO_MAX_TOKENS_PER_STEP = 16_777_216;

  /** FLOP/s assumed for one device slot when estimating a step's time at job creation (warning only). */
  @Type(() => Number)
  @Min(1)
  POPO_SLOT_FLOPS = 20_000_000_000;

  /** A job whose estimated step time exceeds this many seconds is accepted with a warning event. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  POPO_WARN_STEP_S = 600;

  /** The longest a request waits for a free database connection (or a new one) before it answers 503. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  DB_CONNECT_TIMEOUT_MS = 10_000;

  @Transform(({ value }: { value: unknown }) => value !== 'false' && value !== '0' && value !== false, {
    toClassOnly: true,
  })
  @IsBoolean()
  MIGRATIONS_RUN = true;

  @IsIn(['error', 'warn', 'log', 'debug', 'verbose'])
  LOG_LEVEL: 'error' | 'warn' | 'log' | 'debug' | 'verbose' = 'log';
}
