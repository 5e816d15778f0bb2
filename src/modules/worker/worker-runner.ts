import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { JOB_QUEUE_CONSUMER, type JobQueueConsumer } from '../../queue/job-consumer.js';
import { WorkerHeartbeat } from './heartbeat.js';
import { JOB_LEARNER, type JobLearner } from './job-learner.js';
import { RuntimeConfig } from './runtime-config.js';
import { TrainingProcessor } from './training-processor.js';

export const WORKER_DEVICES = Symbol('WORKER_DEVICES');

/**
 * Starts the slots' learner processes and then takes jobs once the whole app is up; on shutdown hands running
 * jobs back (the consumer aborts their signals, each run checkpoints at its next step and is requeued), then
 * ends the learner processes and removes the heartbeat entry.
 */
@Injectable()
export class WorkerRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Worker');

  constructor(
    @Inject(JOB_QUEUE_CONSUMER) private readonly consumer: JobQueueConsumer,
    @Inject(WORKER_DEVICES) private readonly devices: string[],
    private readonly processor: TrainingProcessor,
    private readonly heartbeat: WorkerHeartbeat,
    private readonly runtime: RuntimeConfig,
    @Inject(JOB_LEARNER) private readonly learner: JobLearner,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.heartbeat.start();
    // Each slot's learner process is up (its backend loaded) before the first job is taken.
    await this.learner.start?.();
    await this.consumer.start((ctx) => this.processor.handle(ctx), this.devices);
    this.logger.log(`worker ${this.runtime.workerId} taking jobs on ${this.devices.join(', ')}`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.close();
    await this.learner.close?.();
    await this.heartbeat.stop();
  }
}
