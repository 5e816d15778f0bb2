import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { Job, JobEvent, JobStatus } from '../../database/entities/index.js';
import type { JsonObject } from '../../database/entities/json.js';
import { JobEventRepository, type NewJobEvent } from '../../repositories/job-event.repository.js';
import { JobRepository, SupersededError, type RunOwnership } from '../../repositories/job.repository.js';

export { SupersededError };
export type { RunOwnership };
export type NewEvent = NewJobEvent;

export type ClaimResult =
  | { kind: 'missing' }
  /** paused, finished, or mid-cancel handled elsewhere: nothing to run. */
  | { kind: 'not_runnable'; status: JobStatus }
  /** A stop was requested while the job waited (or its worker died mid-stop): applied now, nothing to run. */
  | { kind: 'stopped'; job: Job; event: JobEvent }
  | { kind: 'over_limit'; running: number; limit: number }
  /** `fence` is the attempt number this run owns; every later write is conditional on it. */
  | { kind: 'claimed'; job: Job; fence: number; recovered: boolean; event: JobEvent };

/**
 * A worker run's life on a job's rows: claim, heartbeat, events, finish. Every write after the claim is fenced on
 * (attempts, worker_id): when a stalled run is recovered by another worker, the old run (if it was only slow, not
 * dead) can no longer touch the job. The SQL is the repositories'; this composes them into transactions.
 */
@Injectable()
export class JobStore {
  constructor(
    private readonly jobs: JobRepository,
    private readonly events: JobEventRepository,
  ) {}

  /**
   * Takes the job for this worker if it may run: queued, or running on a worker that died (the queue only hands
   * out a running job after its lock expired). The project's running-job count is checked under a per-project
   * advisory lock, so two workers cannot both take the last free slot.
   */
  async claim(jobId: string, workerId: string, device: string, defaultLimit: number): Promise<ClaimResult> {
    return this.jobs.transaction(async (m) => {
      const job = await this.jobs.lock(m, jobId);
      if (!job) return { kind: 'missing' };
      if (
        job.status === 'cancelling' ||
        ((job.status === 'queued' || job.status === 'running') && job.stop_requested)
      ) {
        const to: JobStatus =
          job.status === 'cancelling' || job.stop_requested === 'cancel' ? 'cancelled' : 'paused';
        const stopped = await this.jobs.setStatus(m, job.id, to);
        const event = await this.events.add(
          job.id,
          {
            level: 'info',
            code: 'status',
            message: `${job.stop_requested ?? 'cancel'} applied before the run restarted`,
            data: { from: job.status, to },
          },
          m,
        );
        return { kind: 'stopped', job: stopped, event };
      }
      if (job.status !== 'queued' && job.status !== 'running')
        return { kind: 'not_runnable', status: job.status };

      await this.jobs.lockProject(m, job.project_id);
      const { running, limit } = await this.jobs.runningCount(m, job.project_id, job.id);
      const max = limit ?? defaultLimit;
      if (running >= max) return { kind: 'over_limit', running, limit: max };

      const recovered = job.status === 'running';
      const claimed = await this.jobs.startAttempt(m, job.id, workerId, device);
      const event = await this.events.add(
        job.id,
        {
          level: recovered ? 'warning' : 'info',
          code: 'status',
          message: recovered
            ? `worker ${job.worker_id ?? '?'} stopped responding; resumed by ${workerId} on ${device} (attempt ${claimed.attempts})`
            : `running on ${workerId} (${device}), attempt ${claimed.attempts}`,
          data: { from: job.status, to: 'running', worker_id: workerId, device, attempt: claimed.attempts },
        },
        m,
      );
      return { kind: 'claimed', job: claimed, fence: claimed.attempts, recovered, event };
    });
  }

  /**
   * Once per step: refreshes the job's heartbeat and reads what the API asked for. One indexed UPDATE, cheap
   * next to a training step. Throws SupersededError if this run no longer owns the job.
   */
  async poll(own: RunOwnership) {
    const row = await this.jobs.heartbeat(own);
    if (!row) throw new SupersededError(own.jobId, own.fence);
    return row.stop_requested;
  }

  /** Appends an event if this run still owns the job. */
  async event(own: RunOwnership, e: NewEvent): Promise<JobEvent> {
    return this.jobs.transaction(async (m) => {
      await this.owned(m, own);
      return this.events.add(own.jobId, e, m);
    });
  }

  /**
   * Ends this run's ownership with a new status (terminal, paused, or queued again after a shutdown), in one
   * transaction with its status event. Returns the updated row.
   */
  async finish(
    own: RunOwnership,
    to: JobStatus,
    patch: { error?: string | null; result?: JsonObject | null },
    message: string,
    data: Record<string, unknown> = {},
  ): Promise<{ job: Job; event: JobEvent }> {
    return this.jobs.transaction(async (m) => {
      const job = await this.owned(m, own);
      const updated = await this.jobs.setStatus(m, job.id, to, patch);
      const event = await this.events.add(
        job.id,
        {
          level: to === 'failed' ? 'error' : 'info',
          code: 'status',
          message,
          step: updated.progress_step,
          data: { from: job.status, to, ...(patch.error ? { error: patch.error } : {}), ...data },
        },
        m,
      );
      return { job: updated, event };
    });
  }

  /** Whether the user asked for a pause (told apart from a worker shutdown, which also stops with 'pause'). */
  async pauseRequested(jobId: string): Promise<boolean> {
    return (await this.jobs.stopRequested(jobId)) === 'pause';
  }

  private async owned(m: EntityManager, own: RunOwnership): Promise<Job> {
    const job = await this.jobs.lockOwned(m, own);
    if (!job) throw new SupersededError(own.jobId, own.fence);
    return job;
  }
}
