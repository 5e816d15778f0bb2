import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatasetRow, Model, type Job, type JobEvent, type JobStatus } from '../../database/entities/index.js';
import { isTransientDbError } from '../../common/pg-errors.js';
import { retryTransient } from '../../common/retry.js';
import { FieldError } from '../../learner/field-error.js';
import { LearnerCrashError } from '../../learner/process/learner-process.js';
import type { CheckpointBlob, StepMetrics, StopSignal, TrainHooks } from '../../learner/trainer/types.js';
import type { JobContext, JobOutcome } from '../../queue/job-consumer.js';
import { CheckpointStore } from '../checkpoints/checkpoint-store.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { DomainEvents } from '../jobs/domain-events.js';
import { JobEventsService } from '../jobs/job-events.service.js';
import { checkpointPayload, metricsPayload } from '../realtime/payloads.js';
import { REALTIME_PUBLISHER, type RealtimePublisher } from '../realtime/realtime-publisher.js';
import { WorkerHeartbeat } from './heartbeat.js';
import { examplesFromRows, trainConfigFor, type JobInputs } from './job-config.js';
import { JobStore, SupersededError, type NewEvent, type RunOwnership } from './job-store.js';
import { RuntimeConfig } from './runtime-config.js';
import { JOB_LEARNER, type JobLearner } from './job-learner.js';

/** The run ended without reaching a status of its own: the worker is shutting down and hands the job back. */
const SHUTDOWN = 'shutdown' as const;

/** How often a running job's row is checked for a cancel or a takeover while its learner computes. */
const WATCH_MS = 1_000;

/** How long a job handed back because Postgres is unreachable waits before a worker tries it again. */
const DB_UNAVAILABLE_RETRY_MS = 5_000;

/** The reason a cancelled run's learner is stopped mid-step: it did not reach a step boundary within the grace. */
class CancelNow extends Error {
  constructor() {
    super('cancelled while the learner was inside a step');
    this.name = 'CancelNow';
  }
}

/**
 * Why a run failed: the user's input (a FieldError: bad settings, data, model, checkpoint; the job's `error` is
 * the message as is, logged as a warning) or the service (anything else: logged with its stack, `error` names
 * the class). Recorded in the final status event's `data.failure`.
 */
export type FailureKind = 'user_input' | 'internal';
export const failureKind = (err: unknown): FailureKind =>
  err instanceof FieldError ? 'user_input' : 'internal';

interface Outcome {
  to: JobStatus | typeof SHUTDOWN;
  message: string;
  error?: string;
  failure?: FailureKind;
  result?: Record<string, unknown>;
}

/**
 * Runs one training job: claim → load model, data and checkpoints → train() with hooks that write metrics,
 * checkpoints and events to Postgres and publish them live → final status, webhook. Thin by design: the
 * trainer does the learning; JobStore (a run's claim, fenced writes and finish), MetricsService and
 * CheckpointStore write through the repositories, which own the SQL.
 */
@Injectable()
export class TrainingProcessor {
  private readonly logger = new Logger(TrainingProcessor.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly runtime: RuntimeConfig,
    private readonly store: JobStore,
    private readonly metrics: MetricsService,
    private readonly checkpoints: CheckpointStore,
    private readonly events: JobEventsService,
    private readonly domain: DomainEvents,
    private readonly heartbeat: WorkerHeartbeat,
    @Inject(REALTIME_PUBLISHER) private readonly publisher: RealtimePublisher,
    @Inject(JOB_LEARNER) private readonly learner: JobLearner,
  ) {}

  async handle(ctx: JobContext): Promise<JobOutcome> {
    try {
      return await this.handleClaimed(ctx);
    } catch (err) {
      // Postgres is the truth: without it nothing can be claimed or recorded, and nothing is wrong with the job.
      // Hand it back without spending a queue attempt; the row still says where it is (queued, or running on a
      // fence the next claim supersedes), and it resumes from its last checkpoint once the database is back.
      if (!isTransientDbError(err)) throw err;
      this.logger.warn(`job ${ctx.jobId}: database unavailable (${(err as Error).message}); requeued`);
      return {
        kind: 'requeue',
        delayMs: DB_UNAVAILABLE_RETRY_MS,
        reason: `database unavailable: ${(err as Error).message}`,
      };
    }
  }

  /**
   * A database call of a running job: retried with backoff while Postgres is unavailable (a restart, a failover),
   * for up to POPO_DB_RETRY_MS. Every call retried this way is idempotent (inserts-if-absent, fenced updates,
   * checkpoint replace), so a statement whose commit was lost with the connection is safe to repeat.
   */
  private retried<T>(jobId: string, what: string, fn: () => Promise<T>): Promise<T> {
    return retryTransient(fn, {
      budgetMs: this.runtime.dbRetryMs,
      onRetry: (err, attempt, delayMs) =>
        this.logger.warn(
          `job ${jobId}: ${what} failed (${(err as Error).message}); retry ${attempt} in ${delayMs} ms`,
        ),
    });
  }

  private async handleClaimed(ctx: JobContext): Promise<JobOutcome> {
    const workerId = this.runtime.workerId;
    const claim = await this.store.claim(ctx.jobId, workerId, ctx.device, this.runtime.projectMaxRunning);
    switch (claim.kind) {
      case 'missing':
      case 'not_runnable':
        return { kind: 'done' };
      case 'over_limit':
        return {
          kind: 'requeue',
          delayMs: this.runtime.projectLimitRetryMs,
          reason: `project has ${claim.running} running jobs (limit ${claim.limit})`,
        };
      case 'stopped':
        await this.changed(claim.job, claim.event);
        return { kind: 'done' };
    }
    const { job, fence } = claim;
    await this.changed(job, claim.event);
    await this.heartbeat.setJob(ctx.device, job.id);
    try {
      return await this.run(ctx, job, fence);
    } catch (err) {
      if (err instanceof SupersededError) {
        this.logger.warn(err.message);
        return { kind: 'done' };
      }
      throw err;
    } finally {
      await this.heartbeat.setJob(ctx.device, undefined);
    }
  }

  private async run(ctx: JobContext, job: Job, fence: number): Promise<JobOutcome> {
    const workerId = this.runtime.workerId;
    const own: RunOwnership = { jobId: job.id, fence, workerId };
    // Written by shouldStop (a closure), read after train() returns.
    const stop: { asked: StopSignal } = { asked: false };
    // What this run has recorded, for a run whose learner is stopped mid-step.
    const progress = { step: job.progress_step ?? 0, checkpoint: null as number | null };
    const watch = this.watch(own);

    let outcome: Outcome;
    try {
      const config = trainConfigFor(
        job,
        await this.retried(job.id, 'loading inputs', () => this.inputs(job)),
      );
      const resumeFrom =
        job.kind === 'eval'
          ? undefined
          : await this.retried(job.id, 'loading the checkpoint', () => this.checkpoints.loadLatest(job.id));
      const baseCheckpoint =
        !resumeFrom && job.from_checkpoint_id
          ? await this.retried(job.id, 'loading the base checkpoint', () =>
              this.loadBase(job.from_checkpoint_id as string),
            )
          : undefined;

      if (job.kind === 'eval') {
        const res = await this.learner.evaluate(ctx.device, config, baseCheckpoint, watch.signal);
        await this.event(job, own, {
          level: 'info',
          code: 'eval',
          message: `pass@${res.k} ${res.pass_at_k.toFixed(4)} on ${res.examples} ${res.split} examples`,
          data: { ...res },
        });
        outcome = {
          to: 'succeeded',
          message: 'evaluation finished',
          result: { eval: res, backend: res.backend },
        };
      } else {
        const hooks: TrainHooks = {
          onStep: async (m: StepMetrics) => {
            await this.retried(job.id, `recording step ${m.step}`, () => this.metrics.recordStep(own, m));
            progress.step = m.step;
            const { step, ...values } = m;
            this.publisher.emit('job.metrics', metricsPayload(job.id, { step, values }, job.project_id));
          },
          onCompletions: (step, samples) =>
            this.retried(job.id, `recording completions of step ${step}`, () =>
              this.metrics.recordCompletions(own, step, samples),
            ),
          onCheckpoint: async (blob: CheckpointBlob) => {
            const saved = await this.retried(job.id, `saving checkpoint ${blob.step}`, () =>
              this.checkpoints.save(job.id, blob),
            );
            progress.checkpoint = blob.step;
            this.publisher.emit('job.checkpoint', checkpointPayload(saved, job.project_id));
          },
          onEval: (r) =>
            this.event(job, own, {
              level: 'info',
              code: 'eval',
              message: `step ${r.step}: pass@${r.k} ${r.pass_at_k.toFixed(4)}, avg@${r.k} ${r.avg_at_k.toFixed(4)} on ${r.examples} examples`,
              step: r.step,
              data: { ...r },
            }),
          onEvent: (e) =>
            this.event(job, own, { level: e.level, code: e.code, message: e.message, step: e.step }),
          onResume: async (step) => {
            const dropped = await this.retried(job.id, 'rewinding metrics', () =>
              this.metrics.dropAfter(own, step),
            );
            if (dropped)
              this.logger.log(`job ${job.id}: dropped ${dropped} metric rows past checkpoint step ${step}`);
          },
          shouldStop: async () => {
            const requested = await this.retried(job.id, 'heartbeat', () => this.store.poll(own));
            // The user's request wins over a shutdown: a cancel must not turn into a requeue.
            stop.asked = requested ?? (ctx.signal.aborted ? 'pause' : false);
            return stop.asked;
          },
        };
        const res = await this.learner.train(ctx.device, config, hooks, {
          resumeFrom,
          baseCheckpoint,
          stop: watch.signal,
        });
        const result = {
          steps_done: res.steps_done,
          backend: res.backend,
          eval_before: res.eval_before ?? null,
          eval_after: res.eval_after ?? null,
          final_checkpoint_step: res.final_checkpoint_step ?? null,
        };
        if (res.status === 'completed')
          outcome = { to: 'succeeded', message: `succeeded after ${res.steps_done} steps`, result };
        else if (res.status === 'cancelled')
          outcome = { to: 'cancelled', message: `cancelled at step ${res.steps_done}`, result };
        else if (
          ctx.signal.aborted &&
          stop.asked === 'pause' &&
          !(await this.retried(job.id, 'reading the stop request', () => this.store.pauseRequested(job.id)))
        )
          outcome = {
            to: SHUTDOWN,
            message: `worker ${workerId} shut down at step ${res.steps_done}; requeued to resume from its checkpoint`,
          };
        else outcome = { to: 'paused', message: `paused at step ${res.steps_done}`, result };
      }
    } catch (err) {
      if (err instanceof SupersededError) throw err;
      if (err instanceof CancelNow) {
        outcome = {
          to: 'cancelled',
          message: `cancelled at step ${progress.step}; its learner was stopped inside the next step`,
          result: { steps_done: progress.step, final_checkpoint_step: progress.checkpoint },
        };
      } else if (err instanceof LearnerCrashError && ctx.signal.aborted) {
        // The learner went down with the worker (a signal to the whole process group): resume elsewhere.
        this.logger.warn(`job ${job.id}: ${err.message}`);
        outcome = {
          to: SHUTDOWN,
          message: `worker ${workerId} shut down and its learner ended; requeued to resume from its checkpoint`,
        };
      } else if (isTransientDbError(err)) {
        // Postgres stayed unavailable past the retry budget: not the job's fault, so never a terminal failure.
        // handle() hands it back to the queue; the next claim supersedes this run and resumes from the checkpoint.
        throw err;
      } else outcome = this.failed(job, err);
    } finally {
      watch.close();
    }

    const to: JobStatus = outcome.to === SHUTDOWN ? 'queued' : outcome.to;
    const { job: finished, event } = await this.retried(job.id, 'recording the final status', () =>
      this.store.finish(
        own,
        to,
        {
          ...(outcome.error !== undefined ? { error: outcome.error } : {}),
          ...(outcome.result ? { result: outcome.result } : {}),
        },
        outcome.message,
        outcome.failure ? { failure: outcome.failure } : {},
      ),
    );
    await this.retried(job.id, 'announcing the final status', () => this.changed(finished, event));
    return outcome.to === SHUTDOWN
      ? { kind: 'requeue', delayMs: 0, reason: 'worker shutting down' }
      : { kind: 'done' };
  }

  private failed(job: Job, err: unknown): Outcome {
    const e = err as Error;
    const failure = failureKind(err);
    const message = failure === 'user_input' ? e.message : `${e.name}: ${e.message}`;
    if (failure === 'user_input') this.logger.warn(`job ${job.id} failed on its input: ${message}`);
    else this.logger.error(`job ${job.id} failed: ${e.stack ?? e.message}`);
    return { to: 'failed', message: `failed: ${message}`, error: message, failure };
  }

  /**
   * While the learner computes, checks the job's row every WATCH_MS (the same fenced heartbeat as shouldStop), so a
   * run does not depend on its learner reaching a step boundary: a takeover by another worker stops the learner at
   * once, a cancel after POPO_LEARNER_KILL_GRACE_MS if the learner has not stopped by itself by then. A shutdown
   * is left to shouldStop, which checkpoints first.
   */
  private watch(own: RunOwnership): { signal: AbortSignal; close(): void } {
    const ctl = new AbortController();
    let grace: NodeJS.Timeout | undefined;
    let polling = false;
    const timer = setInterval(() => {
      if (polling || ctl.signal.aborted) return;
      polling = true;
      this.store
        .poll(own)
        .then(
          (requested) => {
            if (requested === 'cancel' && !grace)
              grace = setTimeout(() => ctl.abort(new CancelNow()), this.runtime.learnerKillGraceMs);
          },
          (err: unknown) => {
            if (err instanceof SupersededError) ctl.abort(err);
            // Anything else (the database briefly away) is retried at the next tick; the hooks will fail loudly.
          },
        )
        .finally(() => (polling = false));
    }, WATCH_MS);
    return {
      signal: ctl.signal,
      close: () => {
        clearInterval(timer);
        clearTimeout(grace);
      },
    };
  }

  private async inputs(job: Job): Promise<JobInputs> {
    const inputs: JobInputs = {};
    if (job.model_id && !job.model_builtin) {
      const model = await this.db.getRepository(Model).findOneBy({ id: job.model_id });
      if (!model) throw new FieldError('model.id', `model ${job.model_id} no longer exists`);
      inputs.modelPath = model.path;
    }
    if (job.dataset_id && !job.task) {
      const rows = await this.db.getRepository(DatasetRow).find({
        where: { dataset_id: job.dataset_id },
        order: { idx: 'ASC' },
        select: { idx: true, problem: true, answer: true, extra: true },
      });
      inputs.examples = examplesFromRows(rows);
    }
    return inputs;
  }

  private async loadBase(checkpointId: string): Promise<CheckpointBlob> {
    const blob = await this.checkpoints.loadById(checkpointId);
    if (!blob) throw new FieldError('from_checkpoint_id', `checkpoint ${checkpointId} no longer exists`);
    return blob;
  }

  private async event(job: Job, own: RunOwnership, e: NewEvent): Promise<void> {
    this.events.publish(
      await this.retried(job.id, `event ${e.code}`, () => this.store.event(own, e)),
      job.project_id,
    );
  }

  /** A committed status change: its event to sockets, then `job.changed` (socket relay and webhook). */
  private async changed(job: Job, event: JobEvent): Promise<void> {
    this.events.publish(event, job.project_id);
    await this.domain.jobChanged(job);
  }
}
