import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import {
  Job,
  JobEvent,
  type JobEventLevel,
  type JobStatus,
  type StopRequest,
} from '../../database/entities/index.js';
import type { JsonObject } from '../../database/entities/json.js';
import type { StepMetrics } from '../../learner/trainer/types.js';

/** Thrown when another worker has taken this job over (its attempt number moved on): this run must stop writing. */
export class SupersededError extends Error {
  constructor(jobId: string, fence: number) {
    super(`job ${jobId}: attempt ${fence} was superseded by a newer attempt`);
    this.name = 'SupersededError';
  }
}

export type ClaimResult =
  | { kind: 'missing' }
  /** paused, finished, or mid-cancel handled elsewhere: nothing to run. */
  | { kind: 'not_runnable'; status: JobStatus }
  /** A stop was requested while the job waited (or its worker died mid-stop): applied now, nothing to run. */
  | { kind: 'stopped'; job: Job; event: JobEvent }
  | { kind: 'over_limit'; running: number; limit: number }
  /** `fence` is the attempt number this run owns; every later write is conditional on it. */
  | { kind: 'claimed'; job: Job; fence: number; recovered: boolean; event: JobEvent };

export interface NewEvent {
  level: JobEventLevel;
  code: string;
  message: string;
  step?: number | null;
  data?: Record<string, unknown> | null;
}

/**
 * The worker's writes to a job's rows. Every write after the claim is fenced on (attempts, worker_id): when a
 * stalled run is recovered by another worker, the old run (if it was only slow, not dead) can no longer touch
 * the job. Metrics are insert-if-absent per (job, step), so a step reported twice lands once.
 */
@Injectable()
export class JobStore {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /**
   * Takes the job for this worker if it may run: queued, or running on a worker that died (the queue only hands
   * out a running job after its lock expired). The project's running-job count is checked under a per-project
   * advisory lock, so two workers cannot both take the last free slot.
   */
  async claim(jobId: string, workerId: string, device: string, defaultLimit: number): Promise<ClaimResult> {
    return this.db.transaction(async (m) => {
      const job = await m
        .createQueryBuilder(Job, 'j')
        .setLock('pessimistic_write')
        .where('j.id = :jobId', { jobId })
        .getOne();
      if (!job) return { kind: 'missing' };
      if (
        job.status === 'cancelling' ||
        ((job.status === 'queued' || job.status === 'running') && job.stop_requested)
      ) {
        const to: JobStatus =
          job.status === 'cancelling' || job.stop_requested === 'cancel' ? 'cancelled' : 'paused';
        const stopped = await this.setStatus(m, job, to, {});
        const event = await this.addEvent(m, job.id, {
          level: 'info',
          code: 'status',
          message: `${job.stop_requested ?? 'cancel'} applied before the run restarted`,
          data: { from: job.status, to },
        });
        return { kind: 'stopped', job: stopped, event };
      }
      if (job.status !== 'queued' && job.status !== 'running')
        return { kind: 'not_runnable', status: job.status };

      await m.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7462))', [
        `project:${job.project_id}`,
      ]);
      const [{ running, limit }] = (await m.query(
        `SELECT (SELECT count(*)::int FROM jobs WHERE project_id = $1 AND status IN ('running', 'cancelling') AND id <> $2) AS running,
                (SELECT max_running_jobs FROM projects WHERE id = $1) AS limit`,
        [job.project_id, job.id],
      )) as { running: number; limit: number | null }[];
      const max = limit ?? defaultLimit;
      if (running >= max) return { kind: 'over_limit', running, limit: max };

      const recovered = job.status === 'running';
      const from = job.status;
      await m.query(
        `UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = $2, device = $3, error = NULL,
                started_at = COALESCE(started_at, now()), heartbeat_at = now(), updated_at = now() WHERE id = $1`,
        [job.id, workerId, device],
      );
      const claimed = await m.findOneByOrFail(Job, { id: job.id });
      const event = await this.addEvent(m, job.id, {
        level: recovered ? 'warning' : 'info',
        code: 'status',
        message: recovered
          ? `worker ${job.worker_id ?? '?'} stopped responding; resumed by ${workerId} on ${device} (attempt ${claimed.attempts})`
          : `running on ${workerId} (${device}), attempt ${claimed.attempts}`,
        data: { from, to: 'running', worker_id: workerId, device, attempt: claimed.attempts },
      });
      return { kind: 'claimed', job: claimed, fence: claimed.attempts, recovered, event };
    });
  }

  /**
   * Once per step: refreshes the job's heartbeat and reads what the API asked for. One indexed UPDATE, cheap
   * next to a training step. Throws SupersededError if this run no longer owns the job.
   */
  async poll(jobId: string, fence: number, workerId: string): Promise<StopRequest | null> {
    const rows = (await this.db.query(
      `UPDATE jobs SET heartbeat_at = now() WHERE id = $1 AND attempts = $2 AND worker_id = $3 RETURNING stop_requested`,
      [jobId, fence, workerId],
    )) as [{ stop_requested: StopRequest | null }[], number];
    const row = rows[0][0];
    if (!row) throw new SupersededError(jobId, fence);
    return row.stop_requested;
  }

  /** Inserts the step's metrics unless that step is already recorded; true when this call inserted them. */
  async recordStep(jobId: string, fence: number, workerId: string, metrics: StepMetrics): Promise<boolean> {
    const { step, ...values } = metrics;
    return this.db.transaction(async (m) => {
      const owned = (await m.query(
        `UPDATE jobs SET progress_step = GREATEST(progress_step, $4), heartbeat_at = now(), backend = COALESCE($5, backend)
          WHERE id = $1 AND attempts = $2 AND worker_id = $3 RETURNING id`,
        [jobId, fence, workerId, step, typeof values.backend === 'string' ? values.backend : null],
      )) as [unknown[], number];
      if (!owned[0].length) throw new SupersededError(jobId, fence);
      const inserted = (await m.query(
        `INSERT INTO metrics (job_id, step, "values") VALUES ($1, $2, $3) ON CONFLICT (job_id, step) DO NOTHING RETURNING step`,
        [jobId, step, JSON.stringify(values)],
      )) as unknown[];
      return inserted.length > 0;
    });
  }

  /**
   * A resumed run redoes every step after its checkpoint. Rows a dead worker wrote past that point belong to a
   * trajectory that no longer exists, so they go; the redone steps then land exactly once.
   */
  async dropMetricsAfter(jobId: string, fence: number, workerId: string, step: number): Promise<number> {
    return this.db.transaction(async (m) => {
      const owned = (await m.query(
        `SELECT 1 FROM jobs WHERE id = $1 AND attempts = $2 AND worker_id = $3 FOR UPDATE`,
        [jobId, fence, workerId],
      )) as unknown[];
      if (!owned.length) throw new SupersededError(jobId, fence);
      const [, deleted] = (await m.query(`DELETE FROM metrics WHERE job_id = $1 AND step > $2`, [
        jobId,
        step,
      ])) as [unknown, number];
      await m.query(`UPDATE jobs SET progress_step = $2 WHERE id = $1`, [jobId, step]);
      return deleted;
    });
  }

  async addEvent(m: EntityManager, jobId: string, e: NewEvent): Promise<JobEvent> {
    return m.save(
      m.create(JobEvent, {
        job_id: jobId,
        level: e.level,
        code: e.code,
        message: e.message,
        step: e.step ?? null,
        data: e.data ?? null,
      }),
    );
  }

  /** Appends an event if this run still owns the job. */
  async event(jobId: string, fence: number, workerId: string, e: NewEvent): Promise<JobEvent> {
    return this.db.transaction(async (m) => {
      await this.owned(m, jobId, fence, workerId);
      return this.addEvent(m, jobId, e);
    });
  }

  /**
   * Ends this run's ownership with a new status (terminal, paused, or queued again after a shutdown), in one
   * transaction with its status event; `also` runs inside it (the webhook log row). Returns the updated row.
   */
  async finish(
    jobId: string,
    fence: number,
    workerId: string,
    to: JobStatus,
    patch: { error?: string | null; result?: JsonObject | null },
    message: string,
    also?: (m: EntityManager, job: Job) => Promise<unknown>,
  ): Promise<{ job: Job; event: JobEvent }> {
    return this.db.transaction(async (m) => {
      const job = await this.owned(m, jobId, fence, workerId);
      const from = job.status;
      const updated = await this.setStatus(m, job, to, patch);
      const event = await this.addEvent(m, jobId, {
        level: to === 'failed' ? 'error' : 'info',
        code: 'status',
        message,
        step: updated.progress_step,
        data: { from, to, ...(patch.error ? { error: patch.error } : {}) },
      });
      await also?.(m, updated);
      return { job: updated, event };
    });
  }

  private async owned(m: EntityManager, jobId: string, fence: number, workerId: string): Promise<Job> {
    const job = await m
      .createQueryBuilder(Job, 'j')
      .setLock('pessimistic_write')
      .where('j.id = :jobId AND j.attempts = :fence AND j.worker_id = :workerId', { jobId, fence, workerId })
      .getOne();
    if (!job) throw new SupersededError(jobId, fence);
    return job;
  }

  private async setStatus(
    m: EntityManager,
    job: Job,
    to: JobStatus,
    patch: { error?: string | null; result?: JsonObject | null },
  ): Promise<Job> {
    const terminal = to === 'succeeded' || to === 'failed' || to === 'cancelled';
    await m.update(
      Job,
      { id: job.id },
      {
        status: to,
        stop_requested: null,
        ...(terminal ? { finished_at: new Date() } : {}),
        ...(patch.error !== undefined ? { error: patch.error } : {}),
        ...(patch.result !== undefined ? { result: patch.result } : {}),
      },
    );
    return m.findOneByOrFail(Job, { id: job.id });
  }
}
