import { type INestApplicationContext, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { Redis } from 'ioredis';
import type { AppConfig } from '../config/index.js';
import { runMigrations } from '../database/migrate.js';
import { BullmqJobConsumer } from '../queue/bullmq-job-consumer.js';
import { createRedisClient } from '../queue/redis-connection.js';
import { RealtimeModule } from '../modules/realtime/realtime.module.js';
import { resolveDevices } from '../modules/worker/devices.js';
import { RuntimeConfigModule } from '../modules/worker/runtime-config.module.js';
import { loadRuntimeConfig, type RuntimeConfig } from '../modules/worker/runtime-config.js';
import { RedisWorkerRegistry } from '../modules/worker/worker-registry.js';
import { WorkerModule } from '../modules/worker/worker.module.js';
import { AppModule } from './app.module.js';
import { logLevels } from './bootstrap-api.js';

export interface WorkerHandle {
  app: INestApplicationContext;
  devices: string[];
  workerId: string;
  /** Graceful stop: running jobs checkpoint and go back to the queue. */
  close(): Promise<void>;
}

/**
 * The worker process: the shared app (database, services) without HTTP, plus the BullMQ consumer, processor
 * and heartbeat. Needs DATABASE_URL and REDIS_URL. SIGTERM/SIGINT hand running jobs back before exiting.
 */
export async function startWorker(
  config: AppConfig,
  runtime: RuntimeConfig = loadRuntimeConfig(),
): Promise<WorkerHandle> {
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set for a worker process');
  if (!config.redisUrl)
    throw new Error('REDIS_URL must be set for a worker process (only `all` mode runs without Redis)');
  const logger = new Logger('Worker');
  if (config.migrationsRun) {
    const applied = await runMigrations({ url: config.databaseUrl });
    if (applied.length) logger.log(`applied ${applied.join(', ')}`);
  }
  const devices = await resolveDevices(runtime.workerDevices);
  const redisSettings = { url: config.redisUrl, prefix: config.redisPrefix };
  const registryRedis: Redis = createRedisClient(redisSettings, 'heartbeat');
  const consumer = new BullmqJobConsumer(redisSettings, {
    workerId: runtime.workerId,
    lockDurationMs: runtime.queueLockMs,
    onError: (err) => logger.error(`queue: ${err.message}`),
  });
  const app = await NestFactory.createApplicationContext(
    AppModule.forRoot({
      config,
      imports: [
        RuntimeConfigModule.forRoot(runtime),
        RealtimeModule.forWorker(),
        WorkerModule.forRoot({
          consumer,
          devices,
          registry: new RedisWorkerRegistry(registryRedis, config.redisPrefix),
        }),
      ],
    }),
    { logger: logLevels(config) },
  );
  app.enableShutdownHooks();
  await app.init();
  let closed: Promise<void> | undefined;
  return {
    app,
    devices,
    workerId: runtime.workerId,
    close: () =>
      (closed ??= (async () => {
        await app.close();
        await registryRedis.quit().catch(() => undefined);
      })()),
  };
}
