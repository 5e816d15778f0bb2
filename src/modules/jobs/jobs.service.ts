import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { instanceToPlain } from 'class-transformer';
import type { DataSource, EntityManager } from 'typeorm';
import { conflict, notFound, serviceUnavailable } from '../../common/api-error.js';
import { cursorTimestampSql, decodeCursor, encodeCursor, type Page } from '../../common/pagination.js';
import { stableStringify } from '../../common/stable-json.js';
import { Job, type JobKind, type JobStatus } from '../../database/entities/index.js';
import { JOB_QUEUE, type JobQueue } from '../../queue/job-queue.js';
import type { CreateJobDto } from './dto/create-job.dto.js';
import { JobEventsService } from './job-events.service.js';
import { JobRequestResolver, type JobRowInput } from './job-request.js';

export const requestHash = (body: unknown) =>
  createHash('sha256')
    .update(stableStringify(instanceToPlain(body)))
    .digest('hex');

export interface JobFilter {
  status?: JobStatus;
  kind?: JobKind;
  sweep_id?: string;
}

type Transition = { set: Partial<Job>; after?: 'enqueue' | 'remove'; note?: string } | 'unchanged';

const invalidState = (job: Job, action: string, allowed: string) =>
  conflict(
    'invalid_state',
    `cannot ${action} job ${job.id}: it is ${job.status}; only ${allowed} jobs can be ${action === 'retry' ? 'retried' : action + 'd'}`,
  );

@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    private readonly resolver: JobRequestResolver,
    private readonly events: JobEventsService,
  ) {}

  /**
   * Creates a queued job and enqueues it. With an idempotency key, concurrent or repeated requests get the
   * one job the key first created (ON CONFLICT on the unique (project_id, idempotency_key) index); reusing a
   * key for a different request is a 409.
   */
  async create(
    projectId: string,
    dto: CreateJobDto,
    idempotencyKey?: string,
  ): Promise<{ job: Job; created: boolean }> {
    const row = await this.resolver.resolve(projectId, dto);
    const hash = idempotencyKey ? requestHash(dto) : null;
    const inserted = await this.db.transaction(async (m) => {
      const job = await this.insertJob(m, projectId, row, { idempotencyKey, requestHash: hash });
      if (job)
        await this.events.add(
          job.id,
          { level: 'info', code: 'created', message: `${job.kind} job queued` },
          m,
        );
      return job;
    });
    if (!inserted)
      return { job: await this.replay(projectId, idempotencyKey as string, hash as string), created: false };
    return { job: await this.enqueueOrFail(inserted), created: true };
  }

  /** Inserts one queued row; undefined when the idempotency key is already taken (the row is left alone). */
  async insertJob(
    m: EntityManager,
    projectId: string,
    row: JobRowInput,
    opts: {
      idempotencyKey?: string;
      requestHash?: string | null;
      sweepId?: string;
      sweepIndex?: number;
    } = {},
  ): Promise<Job | undefined> {
    const res = await m
      .createQueryBuilder()
      .insert()
      .into(Job)
      .values({
        ...row,
        project_id: projectId,
        status: 'queued',
        idempotency_key: opts.idempotencyKey ?? null,
        request_hash: opts.requestHash ?? null,
        sweep_id: opts.sweepId ?? null,
        sweep_index: opts.sweepIndex ?? null,
      })
      .orIgnore()
      .returning('id')
      .execute();
    const id = (res.raw as { id: string }[])[0]?.id;
    return id ? m.findOneByOrFail(Job, { id }) : undefined;
  }

  private async replay(projectId: string, key: string, hash: string): Promise<Job> {
    const existing = await this.db
      .getRepository(Job)
      .findOneByOrFail({ project_id: projectId, idempotency_key: key });
    if (existing.request_hash !== hash)
      throw conflict(
        'idempotency_key_reused',
        `Idempotency-Key "${key}" was already used for a different request`,
      );
    return existing;
  }

  /**
   * Hands a committed queued job to the queue. If the queue is unreachable the job is marked failed (so it is
   * never silently stuck in "queued") and the caller gets a 503; POST /retry re-enqueues it later.
   */
  async enqueueOrFail(job: Job): Promise<Job> {
    try {
      await this.queue.enqueue(job.id, { priority: job.priority });
    } catch (e) {
      const message = `could not enqueue: ${(e as Error).message}`;
      this.logger.error(`job ${job.id}: ${message}`);
      await this.db.transaction(async (m) => {
        await m.update(
          Job,
          { id: job.id, status: 'queued' },
          { status: 'failed', error: message, finished_at: new Date() },
        );
        await this.events.add(job.id, { level: 'error', code: 'enqueue_failed', message }, m);
      });
      throw serviceUnavailable(
        'queue_unavailable',
        `job ${job.id} was created but the queue is unavailable (${(e as Error).message}); retry it with POST /v1/jobs/${job.id}/retry`,
      );
    }
    await this.events.publish(() => this.events.statusPublisher?.statusChanged(job));
    return job;
  }

  async get(projectId: string, id: string): Promise<Job> {
    const job = await this.db.getRepository(Job).findOneBy({ id, project_id: projectId });
    if (!job) throw notFound('job', id);
    return job;
  }

  async list(projectId: string, filter: JobFilter, limit = 20, cursor?: string): Promise<Page<Job>> {
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

  cancel(projectId: string, id: string): Promise<Job> {
    return this.transition(projectId, id, 'cancel', (job) => {
      switch (job.status) {
        case 'queued':
        case 'paused':
          return {
            set: { status: 'cancelled', stop_requested: null, finished_at: new Date() },
            after: 'remove',
          };
        case 'running':
          return { set: { status: 'cancelling', stop_requested: 'cancel' } };
        case 'cancelling':
          return 'unchanged';
        default:
          throw invalidState(job, 'cancel', 'queued, running or paused');
      }
    });
  }

  pause(projectId: string, id: string): Promise<Job> {
    return this.transition(projectId, id, 'pause', (job) => {
      if (job.status === 'queued') return { set: { status: 'paused' }, after: 'remove' };
      if (job.status === 'paused' || (job.status === 'running' && job.stop_requested === 'pause'))
        return 'unchanged';
      // A running job pauses at its next step boundary, after a checkpoint; the worker sets "paused".
      if (job.status === 'running')
        return {
          set: { stop_requested: 'pause' },
          note: 'pause requested; the job stops after its next checkpoint',
        };
      throw invalidState(job, 'pause', 'queued or running');
    });
  }

  resume(projectId: string, id: string): Promise<Job> {
    return this.transition(projectId, id, 'resume', (job) => {
      if (job.status === 'paused')
        return { set: { status: 'queued', stop_requested: null }, after: 'enqueue' };
      if (job.status === 'running' && job.stop_requested === 'pause')
        return { set: { stop_requested: null }, note: 'pause request withdrawn' };
      throw invalidState(job, 'resume', 'paused');
    });
  }

  /** A failed or cancelled job goes back to the queue as a new attempt; the worker resumes from its latest checkpoint. */
  retry(projectId: string, id: string): Promise<Job> {
    return this.transition(projectId, id, 'retry', (job) => {
      if (job.status === 'failed' || job.status === 'cancelled')
        return {
          set: { status: 'queued', error: null, stop_requested: null, finished_at: null },
          after: 'enqueue',
        };
      throw invalidState(job, 'retry', 'failed or cancelled');
    });
  }

  private async transition(
    projectId: string,
    id: string,
    action: string,
    decide: (job: Job) => Transition,
  ): Promise<Job> {
    const outcome = await this.db.transaction(async (m) => {
      // Row lock: the worker updates the same row (running → succeeded ...), so decide on the current status.
      const job = await m
        .createQueryBuilder(Job, 'j')
        .setLock('pessimistic_write')
        .where('j.id = :id AND j.project_id = :projectId', { id, projectId })
        .getOne();
      if (!job) throw notFound('job', id);
      const t = decide(job);
      if (t === 'unchanged') return { job, t };
      await m.update(Job, { id }, t.set);
      const updated = await m.findOneByOrFail(Job, { id });
      const event = await this.events.add(
        id,
        {
          level: 'info',
          code: job.status === updated.status ? action : 'status',
          message: t.note ?? `${action}: ${job.status} → ${updated.status}`,
          data: { action, from: job.status, to: updated.status },
        },
        m,
      );
      return { job: updated, t, event };
    });
    const { job, t } = outcome;
    if (t === 'unchanged') return job;
    // Events written inside the transaction are published only once it has committed.
    const event = outcome.event;
    await this.events.publish(() => this.events.statusPublisher?.eventAdded?.(event));
    if (t.after === 'remove')
      await this.queue
        .remove(job.id)
        .catch((e: Error) => this.logger.warn(`queue.remove(${job.id}): ${e.message}`));
    if (t.after === 'enqueue') return this.enqueueOrFail(job);
    await this.events.publish(() => this.events.statusPublisher?.statusChanged(job));
    return job;
  }
}
