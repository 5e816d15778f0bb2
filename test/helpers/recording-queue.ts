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

  /** Jobs never enqueued here, or removed since (the reconciler re-enqueues those it finds active in Postgres). */
  async missing(jobIds: string[]): Promise<string[]> {
    if (this.failWith) throw this.failWith;
    const held = new Set(this.enqueued.map((e) => e.jobId).filter((id) => !this.removed.includes(id)));
    return jobIds.filter((id) => !held.has(id));
  }

  async remove(jobId: string): Promise<void> {
    this.removed.push(jobId);
  }

  async close(): Promise<void> {}
}
