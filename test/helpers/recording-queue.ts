import type { EnqueueOptions, JobQueue } from '../../src/queue/job-queue.js';

/** Test-only JobQueue that records calls; `failWith` makes enqueue throw (queue outage). */
export class RecordingQueue implements JobQueue {
  readonly enqueued: { jobId: string; opts: EnqueueOptions }[] = [];
  readonly removed: string[] = [];
  failWith?: Error;

  async enqueue(jobId: string, opts: EnqueueOptions): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.enqueued.push({ jobId, opts });
  }

  async remove(jobId: string): Promise<void> {
    this.removed.push(jobId);
  }

  async close(): Promise<void> {}
}
