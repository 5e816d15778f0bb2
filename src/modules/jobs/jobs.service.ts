import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { instanceToPlain } from 'class-transformer';
import type { EntityManager } from 'typeorm';
import { conflict, notFound } from '../../common/api-error.js';
import type { Page } from '../../common/pagination.js';
import { withTimeout } from '../../common/retry.js';
import { stableStringify } from '../../common/stable-json.js';
import { AppConfig } from '../../config/index.js';
import type { Job } from '../../database/entities/index.js';
import { JOB_QUEUE, type JobQueue } from '../../queue/job-queue.js';
import { JobRepository, type JobFilter } from '../../repositories/job.repository.js';
import { DomainEvents } from './domain-events.js';
import { JobEventsService } from './job-events.service.js';
import { JobRequestResolver, type JobRowInput } from './job-request.js';

export const requestHash = (body: unknown) =>
  createHash('sha256')
    .update(stableStringify(instanceToPlain(body)))
    .digest('hex');

export type { JobFilter };

type Transition = { set: Partial<Job>; after?: 'enqueue' | 'remove'; note?: string } | 'unchanged';

const PAST = { cancel: 'cancelled', pause: 'paused', resume: 'resumed', retry: 'retried' } as const;

const invalidState = (job: Job, action: keyof typeof PAST, allowed: string) =>
  conflict(
    'invalid_state',
    `cannot ${action} job ${job.id}: it is ${job.status}; only ${allowed} jobs can be ${PAST[action]}`,
  );

@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    private readonly jobs: JobRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    private readonly resolver: JobRequestResolver,
    private readonly events: JobEventsService,
    private readonly domain: DomainEvents,
    private readonly config: AppConfig,
  ) {}

  /**
   * Creates a queued job and enqueues it. With an idempotency key, concurrent or repeated requests get the
   * one job the key first created (ON CONFLICT on the unique (project_id, idempotency_key) index); reusing a
   * key for a different request is a 409.
   */
  async create(
    projectId: string,
    body: unknown,
    idempotencyKey?: string,
  ): Promise<{ job: Job; created: boolean }> {
    const { row, warnings } = await this.resolver.resolveChecked(projectId, body);
    const hash = idempotencyKey ? requestHash(body) : null;
    const inserted = await this.jobs.transaction(async (m) => {
      const job = await this.insertJob(m, projectId, row, { idempotencyKey, requestHash: hash });
      if (job) {
        await this.events.add(
          job.id,
          { level: 'info', code: 'created', message: `${job.kind} job queued` },
          m,
        );
        for (const message of warnings)
          await this.events.add(job.id, { level: 'warning', code: 'compute_budget', message }, m);
      }
      return job;
    });
    if (!inserted)
      return { job: await this.replay(projectId, idempotencyKey as string, hash as string), created: false };
    return { job: await this.enqueue(inserted), created: true };
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
    return this.jobs.insert(m, {
      ...row,
      project_id: projectId,
      idempotency_key: opts.idempotencyKey ?? null,
      request_hash: opts.requestHash ?? null,
      sweep_id: opts.sweepId ?? null,
      sweep_index: opts.sweepIndex ?? null,
    });
  }

  private async replay(projectId: string, key: string, hash: string): Promise<Job> {
    const existing = await this.jobs.findByIdempotencyKey(projectId, key);
    if (existing.request_hash !== hash)
      throw conflict(
        'idempotency_key_reused',
        `Idempotency-Key "${key}" was already used for a different request`,
      );
    return existing;
  }

  /**
   * Hands a committed queued job to the queue, waiting at most POPO_QUEUE_TIMEOUT_MS. Postgres is the truth: if
   * the queue is unreachable the job stays `queued` with a warning event, the request still succeeds, and the
   * reconciler (every API and worker process, at start and every POPO_RECONCILE_INTERVAL_MS) enqueues it once the
   * queue is back. A request never hangs on Redis.
   */
  async enqueue(job: Job): Promise<Job> {
    try {
      await withTimeout(
        this.queue.enqueue(job.id, { priority: job.priority }),
        this.config.queueTimeoutMs,
        'the queue',
      );
    } catch (e) {
      const message = `queue unavailable (${(e as Error).message}); the job stays queued and is enqueued when the queue is back`;
      this.logger.warn(`job ${job.id}: ${message}`);
      const event = await this.events.add(job.id, { level: 'warning', code: 'enqueue_deferred', message });
      this.events.publish(event, job.project_id);
    }
    await this.domain.jobChanged(job);
    return job;
  }

  async get(projectId: string, id: string): Promise<Job> {
    const job = await this.jobs.findInProject(projectId, id);
    if (!job) throw notFound('job', id);
    return job;
  }

  list(projectId: string, filter: JobFilter, limit = 20, cursor?: string): Promise<Page<Job>> {
    return this.jobs.list(projectId, filter, limit, cursor);
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
    const outcome = await this.jobs.transaction(async (m) => {
      // Row lock: the worker updates the same row (running → succeeded ...), so decide on the current status.
      const job = await this.jobs.lock(m, id, projectId);
      if (!job) throw notFound('job', id);
      const t = decide(job);
      if (t === 'unchanged') return { job, t };
      const updated = await this.jobs.update(m, id, t.set);
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
    this.events.publish(outcome.event, job.project_id);
    if (t.after === 'remove')
      // A stale entry left behind (queue unreachable now) is harmless: the claim skips a finished or paused row.
      await withTimeout(this.queue.remove(job.id), this.config.queueTimeoutMs, 'the queue').catch(
        (e: Error) => this.logger.warn(`queue.remove(${job.id}): ${e.message}`),
      );
    if (t.after === 'enqueue') return this.enqueue(job);
    await this.domain.jobChanged(job);
    return job;
  }
}
