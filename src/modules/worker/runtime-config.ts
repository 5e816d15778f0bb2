import 'reflect-metadata';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { plainToInstance, Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min, validateSync } from 'class-validator';

/**
 * The runtime's own environment (workers, queue locks, webhooks), validated once at boot beside the core AppConfig.
 * Kept separate so the service runtime can change its knobs without touching the API's config schema.
 */
export class RuntimeEnv {
  /** "cpu", a count ("2"), or a list ("cuda:0,cuda:1"); unset = detect GPUs, else one CPU slot. */
  @IsOptional()
  @Matches(/^(\d{1,3}|[a-z]+(:\d+)?(,[a-z]+(:\d+)?)*)$/, {
    message: 'must be a count ("2") or a comma list of devices ("cpu", "cuda:0,cuda:1")',
  })
  POPO_WORKER_DEVICES?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]{1,100}$/, { message: 'must be 1-100 characters of letters, digits, _ . : -' })
  POPO_WORKER_ID?: string;

  /** BullMQ job lock; a dead worker's job is recovered after about twice this. */
  @Type(() => Number)
  @IsInt()
  @Min(500)
  @Max(600_000)
  POPO_QUEUE_LOCK_MS = 30_000;

  /** Running jobs per project when the project row does not set its own limit. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(10_000)
  POPO_PROJECT_MAX_RUNNING = 4;

  /** How long a job over its project's limit waits before it is offered again. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  POPO_PROJECT_LIMIT_RETRY_MS = 5_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  POPO_WEBHOOK_MAX_ATTEMPTS = 8;

  /** First retry delay; doubles per attempt (capped at one hour). */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(3_600_000)
  POPO_WEBHOOK_BACKOFF_MS = 2_000;

  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(120_000)
  POPO_WEBHOOK_TIMEOUT_MS = 10_000;

  /**
   * A cancelled run whose learner has not reached a step boundary (where it stops by itself) within this long is
   * stopped where it is: its learner process is killed and the slot starts a fresh one.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(600_000)
  POPO_LEARNER_KILL_GRACE_MS = 3_000;

  /** How often each process looks for due deliveries (the table is the retry queue). */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(60_000)
  POPO_WEBHOOK_POLL_MS = 1_000;

  /**
   * How long a running job keeps retrying a database call that failed because Postgres is unavailable
   * (restart, failover, network) before it hands the job back to the queue; it never fails the job for that.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  POPO_DB_RETRY_MS = 120_000;
}

/** Redis URL/prefix, database and heartbeat TTL live in the core AppConfig; these are the runtime's own knobs. */
export class RuntimeConfig {
  /** Unset when the process should detect its devices. */
  workerDevices?: string;
  workerId: string;
  queueLockMs: number;
  projectMaxRunning: number;
  projectLimitRetryMs: number;
  learnerKillGraceMs: number;
  webhook: { maxAttempts: number; backoffMs: number; timeoutMs: number; pollMs: number };
  dbRetryMs: number;
}

export class RuntimeConfigError extends Error {
  constructor(readonly problems: { field: string; reason: string }[]) {
    super(`invalid environment: ${problems.map((p) => `${p.field} ${p.reason}`).join('; ')}`);
    this.name = 'RuntimeConfigError';
  }
}

export function loadRuntimeConfig(env: Record<string, string | undefined> = process.env): RuntimeConfig {
  const blanksRemoved = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const vars = plainToInstance(RuntimeEnv, blanksRemoved);
  const errors = validateSync(vars, { whitelist: true });
  if (errors.length) {
    throw new RuntimeConfigError(
      errors.flatMap((e) =>
        Object.values(e.constraints ?? {}).map((m) => ({
          field: e.property,
          reason: m.startsWith(`${e.property} `) ? m.slice(e.property.length + 1) : m,
        })),
      ),
    );
  }
  return Object.assign(new RuntimeConfig(), {
    workerDevices: vars.POPO_WORKER_DEVICES,
    // Unique per process: two workers on one host must not share a heartbeat key.
    workerId: vars.POPO_WORKER_ID ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    queueLockMs: vars.POPO_QUEUE_LOCK_MS,
    projectMaxRunning: vars.POPO_PROJECT_MAX_RUNNING,
    projectLimitRetryMs: vars.POPO_PROJECT_LIMIT_RETRY_MS,
    learnerKillGraceMs: vars.POPO_LEARNER_KILL_GRACE_MS,
    webhook: {
      maxAttempts: vars.POPO_WEBHOOK_MAX_ATTEMPTS,
      backoffMs: vars.POPO_WEBHOOK_BACKOFF_MS,
      timeoutMs: vars.POPO_WEBHOOK_TIMEOUT_MS,
      pollMs: vars.POPO_WEBHOOK_POLL_MS,
    },
    dbRetryMs: vars.POPO_DB_RETRY_MS,
  } satisfies RuntimeConfig);
}
