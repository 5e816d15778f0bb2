import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type ModuleMetadata,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig, ConfigModule } from '../config/index.js';
import { DatabaseModule } from '../database/database.module.js';
import { ENTITIES } from '../database/entities/index.js';
import { ApiKeysService } from '../modules/auth/api-keys.service.js';
import { CheckpointStore } from '../modules/checkpoints/checkpoint-store.js';
import { DatasetsService } from '../modules/datasets/datasets.service.js';
import { HealthService } from '../modules/health/health.service.js';
import { DomainEvents } from '../modules/jobs/domain-events.js';
import { JobEventsService } from '../modules/jobs/job-events.service.js';
import { JobRequestResolver } from '../modules/jobs/job-request.js';
import { JobsService } from '../modules/jobs/jobs.service.js';
import { JobReconciler } from '../modules/jobs/reconciler.js';
import { SweepsService } from '../modules/jobs/sweeps.service.js';
import { MetricsService } from '../modules/metrics/metrics.service.js';
import { ModelsService } from '../modules/models/models.service.js';
import { BullmqJobQueue } from '../queue/bullmq-job-queue.js';
import { JOB_QUEUE, type JobQueue } from '../queue/job-queue.js';
import { REPOSITORIES } from '../repositories/index.js';

/** Domain services shared by the API and the worker (the worker module is this app minus the HTTP layer). */
export const SHARED_SERVICES = [
  ...REPOSITORIES,
  DomainEvents,
  ApiKeysService,
  DatasetsService,
  ModelsService,
  JobRequestResolver,
  JobEventsService,
  JobsService,
  JobReconciler,
  SweepsService,
  MetricsService,
  CheckpointStore,
  HealthService,
];

export interface AppModuleOptions {
  config: AppConfig;
  /**
   * The producer side of the training queue. Omitted: a BullMQ queue on config.redisUrl, closed with the app.
   * Given (embedded mode, tests): used as is and left for the caller to close.
   */
  queue?: JobQueue;
  /** Extra modules and providers (e.g. the realtime module: sockets and the `job.changed` handlers). */
  imports?: ModuleMetadata['imports'];
  providers?: Provider[];
}

const OWNS_QUEUE = Symbol('OWNS_QUEUE');

/** Closes the queue connection this module opened itself. */
@Injectable()
class QueueCloser implements OnApplicationShutdown {
  constructor(
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    @Inject(OWNS_QUEUE) private readonly owned: boolean,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.owned) await this.queue.close();
  }
}

function queueProviders(opts: AppModuleOptions): Provider[] {
  const { config, queue } = opts;
  if (!queue && !config.redisUrl)
    throw new Error('no job queue: set REDIS_URL (BullMQ) or pass a queue (embedded mode)');
  return [
    { provide: OWNS_QUEUE, useValue: !queue },
    {
      provide: JOB_QUEUE,
      useFactory: () =>
        queue ?? new BullmqJobQueue({ url: config.redisUrl as string, prefix: config.redisPrefix }),
    },
    QueueCloser,
  ];
}

@Global()
@Module({})
export class AppModule {
  static forRoot(opts: AppModuleOptions): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(opts.config),
        DatabaseModule,
        TypeOrmModule.forFeature(ENTITIES),
        ...(opts.imports ?? []),
      ],
      providers: [...queueProviders(opts), ...SHARED_SERVICES, ...(opts.providers ?? [])],
      exports: [JOB_QUEUE, TypeOrmModule, ...SHARED_SERVICES],
    };
  }
}
