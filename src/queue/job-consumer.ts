/**
 * The consuming side of the training queue. Producers (the API) only see JobQueue; the worker process sees this.
 * Both drivers (BullMQ, in-process) implement it, so the processor is the same code in every mode.
 */
export const JOB_QUEUE_CONSUMER = Symbol('JOB_QUEUE_CONSUMER');

export interface JobContext {
  /** The jobs.id the queue entry points at. */
  jobId: string;
  /** The device this run may use (`cpu`, `cuda:0`, ...): one job per device at a time. */
  device: string;
  /** Aborted when this process shuts down: the run should checkpoint and hand the job back. */
  signal: AbortSignal;
}

/** `requeue`: put the job back (after `delayMs`) for any worker to take, e.g. over a project's running-job limit. */
export type JobOutcome = { kind: 'done' } | { kind: 'requeue'; delayMs: number; reason: string };

export type JobHandler = (ctx: JobContext) => Promise<JobOutcome>;

export interface JobQueueConsumer {
  /** Starts taking jobs: one concurrent job per entry of `devices`. */
  start(handler: JobHandler, devices: string[]): Promise<void>;
  /** Stops taking jobs, aborts the running ones' signals and waits for their handlers to return. */
  close(): Promise<void>;
}
