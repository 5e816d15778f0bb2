import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { DatasetRow, Model, type Job, type JobEvent, type JobStatus } from '../../database/entities/index.js';
import type { CheckpointBlob, StepMetrics, StopSignal, TrainHooks } from '../../learner/trainer/types.js';
import type { JobContext, JobOutcome } from '../../queue/job-consumer.js';
import { CheckpointStore } from '../checkpoints/checkpoint-store.js';
import { eventPayload, metricsPayload, statusPayload } from '../realtime/payloads.js';
import { REALTIME_PUBLISHER, type RealtimePublisher } from '../realtime/realtime-publisher.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import { runEvalJob } from './eval-job.js';
import { WorkerHeartbeat } from './heartbeat.js';
import { examplesFromRows, trainConfigFor, type JobInputs } from './job-config.js';
import { JobStore, SupersededError } from './job-store.js';
import { RuntimeConfig } from './runtime-config.js';
import { TRAIN_FN, type TrainFn } from './train-fn.js';

/** The run ended without reaching a status of its own: the worker is shutting down and hands the job back. */
const SHUTDOWN = 'shutdown' as const;

/** Messages of errors that are the user's input (bad hyperparameters, data, model), not the service's fault. */
const USER_ERRORS = new Set([
  'ConfigError',
  'DataSourceError',
  'PolicySourceError',
  'CheckpointError',
  'CheckpointCorruptError',
]);

/**
 * Runs one training job: claim → load model, data and checkpoints → train() with hooks that write metrics,
 * checkpoints and events to Postgres and publish them live → final status, webhook. Thin by design: the
 * trainer does the learning, JobStore owns the SQL, CheckpointStore the blobs.
 */
@Injectable()
export class TrainingProcessor {
  private readonly logger = new Logger(TrainingProcessor.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly runtime: RuntimeConfig,
    private readonly store: JobStore,
    private readonly checkpoints: CheckpointStore,
    private readonly webhooks: WebhooksService,
    private readonly heartbeat: WorkerHeartbeat,
    @Inject(REALTIME_PUBLISHER) private readonly publisher: RealtimePublisher,
    @Inject(TRAIN_FN) private readonly train: TrainFn,
  ) {}

  async handle(ctx: JobContext): Promise<JobOutcome> {
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
        // The log row outside the claim's transaction: a lost row here only costs a notification, never a state.
        await this.webhooks.enqueueTerminal(claim.job);
        this.publishStatus(claim.job, claim.event);
        return { kind: 'done' };
    }
    const { job, fence } = claim;
    this.publishStatus(job, claim.event);
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
    const own = { jobId: job.id, fence, workerId };
    // Written by shouldStop (a closure), read after train() returns.
    const stop: { asked: StopSignal } = { asked: false };

    let outcome: {
      to: JobStatus | typeof SHUTDOWN;
      message: string;
      error?: string;
      result?: Record<string, unknown>;
    };
    try {
      const config = trainConfigFor(job, await this.inputs(job));
      const resumeFrom = job.kind === 'eval' ? undefined : await this.checkpoints.loadLatest(job.id);
      const baseCheckpoint =
        !resumeFrom && job.from_checkpoint_id ? await this.loadBase(job.from_checkpoint_id) : undefined;

      if (job.kind === 'eval') {
        const res = await runEvalJob(config, baseCheckpoint);
        await this.event(job, fence, {
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
            await this.store.recordStep(own.jobId, own.fence, own.workerId, m);
            const { step, ...values } = m;
            this.publisher.emit(
              'job.metrics',
              metricsPayload({ job_id: job.id, step, values }, job.project_id),
            );
          },
          onCheckpoint: async (blob: CheckpointBlob) => {
            const saved = await this.checkpoints.save(job.id, blob);
            this.publisher.emit('job.checkpoint', {
              job_id: job.id,
              project_id: job.project_id,
              checkpoint_id: saved.id,
              step: saved.step,
              sha256: saved.sha256,
              size_bytes: Number(saved.size_bytes),
              created_at: new Date(saved.created_at).toISOString(),
            });
          },
          onEval: (r) =>
            this.event(job, fence, {
              level: 'info',
              code: 'eval',
              message: `step ${r.step}: pass@${r.k} ${r.pass_at_k.toFixed(4)}, avg@${r.k} ${r.avg_at_k.toFixed(4)} on ${r.examples} examples`,
              step: r.step,
              data: { ...r },
            }),
          onEvent: (e) =>
            this.event(job, fence, { level: e.level, code: e.code, message: e.message, step: e.step }),
          onResume: async (step) => {
            const dropped = await this.store.dropMetricsAfter(own.jobId, own.fence, own.workerId, step);
            if (dropped)
              this.logger.log(`job ${job.id}: dropped ${dropped} metric rows past checkpoint step ${step}`);
          },
          shouldStop: async () => {
            const requested = await this.store.poll(own.jobId, own.fence, own.workerId);
            // The user's request wins over a shutdown: a cancel must not turn into a requeue.
            stop.asked = requested ?? (ctx.signal.aborted ? 'pause' : false);
            return stop.asked;
          },
        };
        const res = await this.train(config, hooks, { resumeFrom, baseCheckpoint });
        const result = {
          steps_done: res.steps_done,
          backend: res.backend,
          eval_before: res.eval_before ?? null,
          eval_after: res.eval_after ?? null,
          final_checkpoint_step: res.final_checkpoint?.step ?? null,
        };
        if (res.status === 'completed')
          outcome = { to: 'succeeded', message: `succeeded after ${res.steps_done} steps`, result };
        else if (res.status === 'cancelled')
          outcome = { to: 'cancelled', message: `cancelled at step ${res.steps_done}`, result };
        else if (ctx.signal.aborted && stop.asked === 'pause' && !(await this.pauseRequested(job.id)))
          outcome = {
            to: SHUTDOWN,
            message: `worker ${workerId} shut down at step ${res.steps_done}; requeued to resume from its checkpoint`,
          };
        else outcome = { to: 'paused', message: `paused at step ${res.steps_done}`, result };
      }
    } catch (err) {
      if (err instanceof SupersededError) throw err;
      const e = err as Error;
      const message = USER_ERRORS.has(e.name) ? e.message : `${e.name}: ${e.message}`;
      if (USER_ERRORS.has(e.name)) this.logger.warn(`job ${job.id} failed: ${message}`);
      else this.logger.error(`job ${job.id} failed: ${e.stack ?? e.message}`);
      outcome = { to: 'failed', message: `failed: ${message}`, error: message };
    }

    const to: JobStatus = outcome.to === SHUTDOWN ? 'queued' : outcome.to;
    const { job: finished, event } = await this.store.finish(
      job.id,
      fence,
      workerId,
      to,
      {
        ...(outcome.error !== undefined ? { error: outcome.error } : {}),
        ...(outcome.result ? { result: outcome.result } : {}),
      },
      outcome.message,
      (m, updated) => this.webhooks.enqueueTerminal(updated, m),
    );
    this.publishStatus(finished, event);
    this.webhooks.kick();
    return outcome.to === SHUTDOWN
      ? { kind: 'requeue', delayMs: 0, reason: 'worker shutting down' }
      : { kind: 'done' };
  }

  private async inputs(job: Job): Promise<JobInputs> {
    const inputs: JobInputs = {};
    if (job.model_id && !job.model_builtin) {
      const model = await this.db.getRepository(Model).findOneBy({ id: job.model_id });
      if (!model)
        throw Object.assign(new Error(`model ${job.model_id} no longer exists`), { name: 'ConfigError' });
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
    if (!blob)
      throw Object.assign(new Error(`checkpoint ${checkpointId} no longer exists`), { name: 'ConfigError' });
    return blob;
  }

  private async pauseRequested(jobId: string): Promise<boolean> {
    const rows = (await this.db.query('SELECT stop_requested FROM jobs WHERE id = $1', [jobId])) as {
      stop_requested: string | null;
    }[];
    return rows[0]?.stop_requested === 'pause';
  }

  private async event(job: Job, fence: number, e: Parameters<JobStore['event']>[3]): Promise<void> {
    const saved = await this.store.event(job.id, fence, this.runtime.workerId, e);
    this.publisher.emit('job.event', eventPayload(saved, job.project_id));
  }

  private publishStatus(job: Job, event?: JobEvent): void {
    this.publisher.emit('job.status', statusPayload(job));
    if (event) this.publisher.emit('job.event', eventPayload(event, job.project_id));
  }
}
