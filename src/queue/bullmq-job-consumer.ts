import { DelayedError, Worker } from 'bullmq';
import type { TrainingJobData } from './bullmq-job-queue.js';
import type { JobHandler, JobQueueConsumer } from './job-consumer.js';
import { TRAINING_QUEUE } from './job-queue.js';
import type { RedisSettings } from './redis-connection.js';

export interface BullmqConsumerOptions {
  /** Shown as the BullMQ worker name, so `queue.getWorkers()` and job records say who ran what. */
  workerId: string;
  /**
   * How long a job's lock lives without renewal. A SIGKILLed worker's job is taken back to `wait` by another
   * worker's stalled check within about lockDuration + stalledInterval. Renewal runs on a timer, so a training
   * step must never block the event loop for longer than this (the processor's fencing catches it if it does).
   */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  /** A resumed run restarts from its last checkpoint, so several recoveries are harmless. */
  maxStalledCount?: number;
  onError?: (err: Error) => void;
}

/** Consumer side on BullMQ: one Worker (concurrency 1) per device, so a device never runs two jobs. */
export class BullmqJobConsumer implements JobQueueConsumer {
  private readonly workers: Worker<TrainingJobData>[] = [];
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly settings: RedisSettings,
    private readonly opts: BullmqConsumerOptions,
  ) {}

  async start(handler: JobHandler, devices: string[]): Promise<void> {
    if (this.workers.length) throw new Error('consumer already started');
    if (!devices.length) throw new Error('devices must list at least one device');
    const lockDuration = this.opts.lockDurationMs ?? 30_000;
    for (const device of devices) {
      const worker = new Worker<TrainingJobData>(
        TRAINING_QUEUE,
        async (job, token) => {
          const abort = new AbortController();
          this.running.add(abort);
          try {
            const outcome = await handler({ jobId: job.data.jobId, device, signal: abort.signal });
            if (outcome.kind === 'requeue') {
              await job.moveToDelayed(Date.now() + Math.max(0, outcome.delayMs), token);
              // Tells BullMQ the job was moved on purpose, not completed or failed.
              throw new DelayedError(outcome.reason);
            }
          } finally {
            this.running.delete(abort);
          }
        },
        {
          connection: { url: this.settings.url },
          prefix: this.settings.prefix,
          name: `${this.opts.workerId}/${device}`,
          concurrency: 1,
          lockDuration,
          stalledInterval: this.opts.stalledIntervalMs ?? lockDuration,
          maxStalledCount: this.opts.maxStalledCount ?? 10,
          autorun: false,
        },
      );
      worker.on('error', (err) => this.opts.onError?.(err));
      this.workers.push(worker);
    }
    for (const w of this.workers) void w.run().catch((err: Error) => this.opts.onError?.(err));
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  async close(): Promise<void> {
    for (const abort of this.running) abort.abort(new Error('worker shutting down'));
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers.length = 0;
  }
}
