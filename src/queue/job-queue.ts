/**
 * The queue is an interface (Vendure's job-queue strategy): BullMQ on Redis in production,
 * an in-process driver in embedded mode. Services depend on JOB_QUEUE, never on a driver.
 */
export const JOB_QUEUE = Symbol('JOB_QUEUE');

export const TRAINING_QUEUE = 'training';

export interface EnqueueOptions {
  /** Lower runs first (BullMQ convention). */
  priority: number;
}

export interface JobQueue {
  enqueue(jobId: string, opts: EnqueueOptions): Promise<void>;
  /** Drops a job that has not started yet; a running one is stopped through its status row instead. */
  remove(jobId: string): Promise<void>;
  close(): Promise<void>;
}
