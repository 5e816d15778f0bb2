import { type DynamicModule, Module } from '@nestjs/common';
import { AppConfig } from '../../config/index.js';
import { JOB_QUEUE_CONSUMER, type JobQueueConsumer } from '../../queue/job-consumer.js';
import { WebhooksModule } from '../webhooks/webhooks.module.js';
import { WorkerHeartbeat } from './heartbeat.js';
import { JobStore } from './job-store.js';
import { RuntimeConfig } from './runtime-config.js';
import { InProcessLearner, JOB_LEARNER, type TrainFn } from './job-learner.js';
import { LearnerSlots } from './learner-slots.js';
import { TrainingProcessor } from './training-processor.js';
import { WORKER_DEVICES, WorkerRunner } from './worker-runner.js';
import { WORKER_REGISTRY, type WorkerRegistry } from './worker-registry.js';

export interface WorkerModuleOptions {
  consumer: JobQueueConsumer;
  devices: string[];
  registry: WorkerRegistry;
  /** The backend named in the heartbeat until the first learner reports the one it loaded (default: none yet). */
  backend?: string;
  /**
   * Only unit tests pass a stand-in, run in this process; everything else runs the real trainer in a learner
   * child process per device slot.
   */
  train?: TrainFn;
}

/**
 * The job-running half of a process: processor, heartbeat and the runner that feeds it from the queue.
 * Expects the global AppModule, RuntimeConfigModule and a REALTIME_PUBLISHER (RealtimeModule) beside it.
 */
@Module({})
export class WorkerModule {
  static forRoot(opts: WorkerModuleOptions): DynamicModule {
    return {
      module: WorkerModule,
      imports: [WebhooksModule],
      providers: [
        { provide: JOB_QUEUE_CONSUMER, useValue: opts.consumer },
        { provide: WORKER_DEVICES, useValue: opts.devices },
        { provide: WORKER_REGISTRY, useValue: opts.registry },
        {
          provide: JOB_LEARNER,
          inject: [WorkerHeartbeat],
          useFactory: (heartbeat: WorkerHeartbeat) =>
            opts.train ? new InProcessLearner(opts.train) : new LearnerSlots(opts.devices, heartbeat),
        },
        {
          provide: WorkerHeartbeat,
          inject: [AppConfig, RuntimeConfig],
          useFactory: (config: AppConfig, runtime: RuntimeConfig) =>
            new WorkerHeartbeat(opts.registry, {
              id: runtime.workerId,
              devices: opts.devices,
              backend: opts.backend ?? '',
              ttlS: config.workerHeartbeatTtlS,
            }),
        },
        JobStore,
        TrainingProcessor,
        WorkerRunner,
      ],
      exports: [WORKER_REGISTRY, JOB_LEARNER, TrainingProcessor, JobStore],
    };
  }
}
