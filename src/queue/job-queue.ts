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
  /**
   * Which of these jobs have no entry at all (waiting, delayed or running): the reconciler re-enqueues the rows
   * Postgres says should be queued or running. One round trip for the whole list. Drivers without it are not
   * reconciled.
   */
  missing?(jobIds: string[]): Promise<string[]>;
  close(): Promise<void>;
}
