import { Queue } from 'bullmq';
import type { EnqueueOptions, JobQueue } from './job-queue.js';
import { TRAINING_QUEUE } from './job-queue.js';
import { toBullPriority } from './priority.js';
import type { RedisSettings } from './redis-connection.js';

export interface TrainingJobData {
  jobId: string;
}

/**
 * Producer side on BullMQ. The queue entry's id is the jobs.id, so enqueueing a job that is already waiting or
 * running is a no-op (BullMQ dedups on id); finished entries are removed so a paused or retried job can be added again.
 */
export class BullmqJobQueue implements JobQueue {
  readonly queue: Queue<TrainingJobData>;

  constructor(settings: RedisSettings) {
    this.queue = new Queue<TrainingJobData>(TRAINING_QUEUE, {
      connection: { url: settings.url },
      prefix: settings.prefix,
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
    });
  }

  async enqueue(jobId: string, opts: EnqueueOptions): Promise<void> {
    if (!jobId) throw new Error('jobId must be a non-empty string');
    await this.queue.add(
      'train',
      { jobId },
      // attempts/backoff cover infrastructure failures (database down); a training error is a terminal job state.
      {
        jobId,
        priority: toBullPriority(opts.priority),
        attempts: 3,
        backoff: { type: 'exponential', delay: 5_000 },
      },
    );
  }

  async remove(jobId: string): Promise<void> {
    // 0 when the entry is active (locked by a worker): that run is stopped through the job's status row instead.
    await this.queue.remove(jobId);
  }

  async missing(jobIds: string[]): Promise<string[]> {
    // A BullMQ entry exists while it is waiting, delayed or active; finished ones are removed (removeOnComplete,
    // removeOnFail), and a Redis that lost its data has none. The calls share one connection, so they pipeline.
    const states = await Promise.all(jobIds.map((id) => this.queue.getJobState(id)));
    return jobIds.filter((_, i) => states[i] === 'unknown');
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
