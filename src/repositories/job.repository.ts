import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { cursorTimestampSql, decodeCursor, encodeCursor, type Page } from '../common/pagination.js';
import {
  ACTIVE_STATUSES,
  Job,
  type JobKind,
  type JobStatus,
  type StopRequest,
  TERMINAL_STATUSES,
} from '../database/entities/index.js';
import type { JsonObject } from '../database/entities/json.js';

export interface JobFilter {
  status?: JobStatus;
  kind?: JobKind;
  sweep_id?: string;
}

/** Thrown when another worker has taken this job over (its attempt number moved on): this run must stop writing. */
export class SupersededError extends Error {
  constructor(jobId: string, fence: number) {
    super(`job ${jobId}: attempt ${fence} was superseded by a newer attempt`);
    this.name = 'SupersededError';
  }
}

/** What a worker run owns after its claim: every later write is conditional on (attempts = fence, worker_id). */
export interface RunOwnership {
  jobId: string;
  fence: number;
  workerId: string;
}

/**
 * All SQL on the `jobs` table. Methods that take part in a larger change accept the transaction's manager
 * (`m`); without one they run on their own. Services and the worker compose these inside their transactions.
 */
@Injectable()
export class JobRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  transaction<T>(fn: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(fn);
  }

  /** Inserts one queued row; undefined when the (project, idempotency key) pair is already taken. */
  async insert(m: EntityManager, row: Partial<Job>): Promise<Job | undefined> {
    const res = await m
      .createQueryBuilder()
      .insert()
      .into(Job)
      .values({ ...row, status: 'queued' })
      .orIgnore()
      .returning('id')
      .execute();
    const id = (res.raw as { id: string }[])[0]?.id;
    return id ? m.findOneByOrFail(Job, { id }) : undefined;
  }

  findByIdempotencyKey(projectId: string, key: string): Promise<Job> {
    return this.db.getRepository(Job).findOneByOrFail({ project_id: projectId, idempotency_key: key });
  }

  /** The job, only if it belongs to `projectId` (another project's job looks missing). */
  findInProject(projectId: string, id: string): Promise<Job | null> {
    return this.db.getRepository(Job).findOneBy({ id, project_id: projectId });
  }

  findById(id: string, m: EntityManager = this.db.manager): Promise<Job | null> {
    return m.findOneBy(Job, { id });
  }

  existsInProject(projectId: string, id: string): Promise<boolean> {
    return this.db.getRepository(Job).existsBy({ id, project_id: projectId });
  }

  async list(projectId: string, filter: JobFilter, limit: number, cursor?: string): Promise<Page<Job>> {
    const qb = this.db
      .getRepository(Job)
      .createQueryBuilder('j')
      .addSelect(cursorTimestampSql('j.created_at'), 'j_cursor_ts')
      .where('j.project_id = :projectId', { projectId })
      .orderBy('j.created_at', 'DESC')
      .addOrderBy('j.id', 'DESC')
      .limit(limit + 1);
    if (filter.status) qb.andWhere('j.status = :status', { status: filter.status });
    if (filter.kind) qb.andWhere('j.kind = :kind', { kind: filter.kind });
    if (filter.sweep_id) qb.andWhere('j.sweep_id = :sweepId', { sweepId: filter.sweep_id });
    if (cursor)
      qb.andWhere(
        '(j.created_at, j.id) < (CAST(:ts AS timestamptz), CAST(:id AS uuid))',
        decodeCursor(cursor),
      );
    const { entities, raw } = await qb.getRawAndEntities<{ j_cursor_ts: string }>();
    const items = entities.slice(0, limit);
    const more = entities.length > limit;
    return {
      items,
      next_cursor: more ? encodeCursor({ ts: raw[limit - 1].j_cursor_ts, id: items[limit - 1].id }) : null,
    };
  }

  listBySweep(sweepId: string): Promise<Job[]> {
    return this.db.getRepository(Job).find({ where: { sweep_id: sweepId }, order: { sweep_index: 'ASC' } });
  }

  /** The project's unfinished jobs, newest first (a realtime subscription's snapshot). */
  listActive(projectId: string, limit: number): Promise<Job[]> {
    return this.db.getRepository(Job).find({
      where: { project_id: projectId, status: In([...ACTIVE_STATUSES]) },
      order: { created_at: 'DESC' },
      take: limit,
    });
  }

  /** Jobs a queue should hold, oldest first: embedded mode's in-process queue re-enqueues them at boot. */
  listEnqueueable(): Promise<Pick<Job, 'id' | 'priority'>[]> {
    return this.db.getRepository(Job).find({
      select: { id: true, priority: true },
      where: { status: In(['queued', 'running', 'cancelling']) },
      order: { created_at: 'ASC' },
    });
  }

  /**
   * One page of the reconciler's sweep: unfinished rows after `afterId` in id order, each with whether its
   * heartbeat is older than `staleMs` (a running row nobody has touched for that long may have no owner). One
   * statement per page, on the status index; the caller walks the pages round-robin.
   */
  async reconcilePage(
    afterId: string,
    staleMs: number,
    limit: number,
  ): Promise<{ id: string; status: JobStatus; priority: number; attempts: number; stale: boolean }[]> {
    return (await this.db.query(
      `SELECT id, status, priority, attempts,
              (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $2::float8 / 1000)) AS stale
         FROM jobs
        WHERE status IN ('queued', 'running', 'cancelling') AND id > $1
        ORDER BY id
        LIMIT $3`,
      [afterId, staleMs, limit],
    )) as { id: string; status: JobStatus; priority: number; attempts: number; stale: boolean }[];
  }

  /**
   * Completes a cancel whose run has no owner (its worker died or lost its queue entry): `cancelling` →
   * `cancelled`, only if nothing touched the row since the sweep saw it (same attempt, heartbeat still stale).
   * worker_id is cleared so a run that was only stuck cannot write to the job again (its fence includes it).
   */
  async finishOrphanedCancel(
    m: EntityManager,
    id: string,
    attempts: number,
    staleMs: number,
  ): Promise<Job | null> {
    const [rows] = (await m.query(
      `UPDATE jobs SET status = 'cancelled', stop_requested = NULL, worker_id = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1 AND status = 'cancelling' AND attempts = $2
          AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => $3::float8 / 1000))
        RETURNING id`,
      [id, attempts, staleMs],
    )) as [{ id: string }[], number];
    return rows.length ? m.findOneBy(Job, { id }) : null;
  }

  /** Unfinished jobs that still use a model or a dataset (deleting it would break them). */
  countActiveUsing(m: EntityManager, ref: { model_id: string } | { dataset_id: string }): Promise<number> {
    return m.count(Job, { where: { ...ref, status: In([...ACTIVE_STATUSES]) } });
  }

  /** Reads the row under a row lock (`FOR UPDATE`): the caller decides on the current status. */
  lock(m: EntityManager, id: string, projectId?: string): Promise<Job | null> {
    const qb = m.createQueryBuilder(Job, 'j').setLock('pessimistic_write').where('j.id = :id', { id });
    if (projectId) qb.andWhere('j.project_id = :projectId', { projectId });
    return qb.getOne();
  }

  /** Sets columns and returns the row as it now is. */
  async update(m: EntityManager, id: string, set: Partial<Job>): Promise<Job> {
    await m.update(Job, { id }, set);
    return m.findOneByOrFail(Job, { id });
  }

  /** Moves a job to `to` and clears its stop request; a terminal status stamps finished_at. */
  setStatus(
    m: EntityManager,
    id: string,
    to: JobStatus,
    patch: { error?: string | null; result?: JsonObject | null } = {},
  ): Promise<Job> {
    return this.update(m, id, {
      status: to,
      stop_requested: null,
      ...(TERMINAL_STATUSES.includes(to) ? { finished_at: new Date() } : {}),
      ...(patch.error !== undefined ? { error: patch.error } : {}),
      ...(patch.result !== undefined ? { result: patch.result } : {}),
    });
  }

  async stopRequested(id: string): Promise<StopRequest | null> {
    const job = await this.db.getRepository(Job).findOne({ where: { id }, select: { stop_requested: true } });
    return job?.stop_requested ?? null;
  }

  async projectOf(id: string): Promise<string | undefined> {
    const job = await this.db.getRepository(Job).findOne({ where: { id }, select: { project_id: true } });
    return job?.project_id;
  }

  // ---- a worker's run: claim, then writes fenced on its ownership ----

  /** Serialises claims within a project for the rest of the transaction (the running-job limit check). */
  async lockProject(m: EntityManager, projectId: string): Promise<void> {
    await m.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 7462))', [`project:${projectId}`]);
  }

  /** Running jobs of the project other than `exceptId`, and the project's own limit (null: the default). */
  async runningCount(
    m: EntityManager,
    projectId: string,
    exceptId: string,
  ): Promise<{ running: number; limit: number | null }> {
    const [row] = (await m.query(
      `SELECT (SELECT count(*)::int FROM jobs WHERE project_id = $1 AND status IN ('running', 'cancelling') AND id <> $2) AS running,
              (SELECT max_running_jobs FROM projects WHERE id = $1) AS limit`,
      [projectId, exceptId],
    )) as { running: number; limit: number | null }[];
    return row;
  }

  /** Marks the job running on this worker as a new attempt; the new attempt number is the run's fence. */
  async startAttempt(m: EntityManager, id: string, workerId: string, device: string): Promise<Job> {
    await m.query(
      `UPDATE jobs SET status = 'running', attempts = attempts + 1, worker_id = $2, device = $3, error = NULL,
              started_at = COALESCE(started_at, now()), heartbeat_at = now(), updated_at = now() WHERE id = $1`,
      [id, workerId, device],
    );
    return m.findOneByOrFail(Job, { id });
  }

  /** Refreshes the heartbeat and reads the stop request; undefined when the run no longer owns the job. */
  async heartbeat(own: RunOwnership): Promise<{ stop_requested: StopRequest | null } | undefined> {
    const [rows] = (await this.db.query(
      `UPDATE jobs SET heartbeat_at = now() WHERE id = $1 AND attempts = $2 AND worker_id = $3 RETURNING stop_requested`,
      [own.jobId, own.fence, own.workerId],
    )) as [{ stop_requested: StopRequest | null }[], number];
    return rows[0];
  }

  /** Records a finished step's progress (and the backend it reports); false when the run no longer owns the job. */
  async advance(m: EntityManager, own: RunOwnership, step: number, backend: string | null): Promise<boolean> {
    const [rows] = (await m.query(
      `UPDATE jobs SET progress_step = GREATEST(progress_step, $4), heartbeat_at = now(), backend = COALESCE($5, backend)
        WHERE id = $1 AND attempts = $2 AND worker_id = $3 RETURNING id`,
      [own.jobId, own.fence, own.workerId, step, backend],
    )) as [unknown[], number];
    return rows.length > 0;
  }

  /** Sets progress back to a checkpoint's step (a resumed run redoes the steps after it). */
  async rewind(m: EntityManager, id: string, step: number): Promise<void> {
    await m.update(Job, { id }, { progress_step: step });
  }

  /** The row under a lock if this run still owns it. */
  lockOwned(m: EntityManager, own: RunOwnership): Promise<Job | null> {
    return m
      .createQueryBuilder(Job, 'j')
      .setLock('pessimistic_write')
      .where('j.id = :jobId AND j.attempts = :fence AND j.worker_id = :workerId', own)
      .getOne();
  }
}
