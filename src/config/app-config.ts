import { isAbsolute, resolve } from 'node:path';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { OutboundPolicy } from '../common/ssrf-guard.js';
import { EnvironmentVariables, type ProcessMode } from './env.schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: { field: string; reason: string }[]) {
    super(`invalid environment: ${problems.map((p) => `${p.field} ${p.reason}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The typed configuration every module injects (by class). Built once from the environment by `loadConfig`;
 * tests build their own with overrides instead of touching process.env.
 */
export class AppConfig {
  mode?: ProcessMode;
  databaseUrl?: string;
  redisUrl?: string;
  redisPrefix: string;
  adminKey?: string;
  port: number;
  host: string;
  dataDir: string;
  /** Set: serve this directory at `/`; unset: the package's dist/dashboard. */
  dashboardDir?: string;
  modelRoots: string[];
  /** Which addresses user-supplied URLs may reach (POPO_OUTBOUND_ALLOW). */
  outbound: OutboundPolicy;
  limits: {
    jsonBodyBytes: number;
    datasetBytes: number;
    datasetRows: number;
    datasetLineBytes: number;
    uploadsPerKey: number;
    modelArchiveBytes: number;
    modelExtractedBytes: number;
    modelArchiveFiles: number;
    projectStorageBytes: number;
    sweepJobs: number;
  };
  rateLimitPerMinute: number;
  authFailuresPerMinute: number;
  checkpointChunkBytes: number;
  dbPoolSize: number;
  dbConnectTimeoutMs: number;
  queueTimeoutMs: number;
  reconcile: { intervalMs: number; staleMs: number };
  /** The per-job compute budget checked at creation (src/learner/trainer/compute-budget.ts). */
  budget: { maxTokensPerStep: number; slotFlops: number; warnStepSeconds: number };
  workerHeartbeatTtlS: number;
  migrationsRun: boolean;
  logLevel: EnvironmentVariables['LOG_LEVEL'];
}

function flatten(errors: ValidationError[]): { field: string; reason: string }[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((msg) => ({
      field: e.property,
      reason: msg.startsWith(`${e.property} `) ? msg.slice(e.property.length + 1) : msg,
    })),
  );
}

/** Validates `env` (process.env by default) and returns the typed config; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  // whitelist strips every variable the schema does not declare, so unrelated environment noise is ignored.
  const vars = plainToInstance(EnvironmentVariables, { ...env });
  const errors = validateSync(vars, { whitelist: true });
  if (errors.length > 0) throw new ConfigError(flatten(errors));

  const dataDir = resolve(vars.POPO_DATA_DIR);
  const modelRoots = (vars.POPO_MODEL_ROOTS ?? resolve(dataDir, 'models'))
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => (isAbsolute(p) ? p : resolve(p)));

  let outbound: OutboundPolicy;
  try {
    outbound = OutboundPolicy.parse(vars.POPO_OUTBOUND_ALLOW);
  } catch (e) {
    throw new ConfigError([{ field: 'POPO_OUTBOUND_ALLOW', reason: (e as Error).message }]);
  }

  return Object.assign(new AppConfig(), {
    mode: vars.POPO_MODE,
    databaseUrl: vars.DATABASE_URL,
    redisUrl: vars.REDIS_URL,
    redisPrefix: vars.POPO_REDIS_PREFIX,
    adminKey: vars.POPO_ADMIN_KEY,
    port: vars.PORT,
    host: vars.HOST,
    dataDir,
    dashboardDir: vars.POPO_DASHBOARD_DIR ? resolve(vars.POPO_DASHBOARD_DIR) : undefined,
    modelRoots,
    outbound,
    limits: {
      jsonBodyBytes: vars.MAX_JSON_BODY_BYTES,
      datasetBytes: vars.MAX_DATASET_BYTES,
      datasetRows: vars.MAX_DATASET_ROWS,
      datasetLineBytes: vars.MAX_DATASET_LINE_BYTES,
      uploadsPerKey: vars.MAX_CONCURRENT_UPLOADS_PER_KEY,
      modelArchiveBytes: vars.MAX_MODEL_ARCHIVE_BYTES,
      modelExtractedBytes: vars.MAX_MODEL_EXTRACTED_BYTES ?? vars.MAX_MODEL_ARCHIVE_BYTES,
      modelArchiveFiles: vars.MAX_MODEL_ARCHIVE_FILES,
      projectStorageBytes: vars.PROJECT_STORAGE_BYTES,
      sweepJobs: vars.MAX_SWEEP_JOBS,
    },
    rateLimitPerMinute: vars.RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: vars.AUTH_FAILURES_PER_MINUTE,
    checkpointChunkBytes: vars.CHECKPOINT_CHUNK_BYTES,
    dbPoolSize: vars.DB_POOL_SIZE,
    dbConnectTimeoutMs: vars.DB_CONNECT_TIMEOUT_MS,
    queueTimeoutMs: vars.POPO_QUEUE_TIMEOUT_MS,
    reconcile: { intervalMs: vars.POPO_RECONCILE_INTERVAL_MS, staleMs: vars.POPO_RECONCILE_STALE_MS },
    budget: {
      maxTokensPerStep: vars.POPO_MAX_TOKENS_PER_STEP,
      slotFlops: vars.POPO_SLOT_FLOPS,
      warnStepSeconds: vars.POPO_WARN_STEP_S,
    },
    workerHeartbeatTtlS: vars.WORKER_HEARTBEAT_TTL_S,
    migrationsRun: vars.MIGRATIONS_RUN,
    logLevel: vars.LOG_LEVEL,
  } satisfies AppConfig);
}
