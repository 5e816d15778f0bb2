import type { TrainSummary } from '../../learner/process/protocol.js';
import { summarize } from '../../learner/process/protocol.js';
import type { EvalJobResult } from '../../learner/trainer/eval-job.js';
import type { CheckpointBlob, TrainConfig, TrainHooks, TrainResult } from '../../learner/trainer/types.js';

export interface LearnerRunOptions {
  resumeFrom?: CheckpointBlob;
  baseCheckpoint?: CheckpointBlob;
  /**
   * Aborted when the run must end at once (cancelled and past its grace, or superseded by another worker): the
   * learner is stopped where it is and the call rejects with the signal's reason.
   */
  stop?: AbortSignal;
}

/** Where a device slot's job runs its learner: a child process per slot (LearnerSlots) in every real process. */
export interface JobLearner {
  /** Brings the learners up before the first job (the worker takes jobs after this). */
  start?(): Promise<void>;
  /** Ends the learners (after the running jobs were handed back). */
  close?(): Promise<void>;
  train(
    device: string,
    config: TrainConfig,
    hooks: TrainHooks,
    opts: LearnerRunOptions,
  ): Promise<TrainSummary>;
  evaluate(
    device: string,
    config: TrainConfig,
    base: CheckpointBlob | undefined,
    stop?: AbortSignal,
  ): Promise<EvalJobResult>;
}

export const JOB_LEARNER = Symbol('JOB_LEARNER');

/** train()'s signature, for stand-in trainers. */
export type TrainFn = (
  config: TrainConfig,
  hooks: TrainHooks,
  opts: { resumeFrom?: CheckpointBlob; baseCheckpoint?: CheckpointBlob },
) => Promise<TrainResult>;

/**
 * Runs a stand-in trainer inside this process (the processor's unit tests): no isolation, and `stop` is not
 * honoured — the stand-in stops at its next shouldStop like the real loop.
 */
export class InProcessLearner implements JobLearner {
  constructor(private readonly trainFn: TrainFn) {}

  async train(_device: string, config: TrainConfig, hooks: TrainHooks, opts: LearnerRunOptions) {
    return summarize(
      await this.trainFn(config, hooks, { resumeFrom: opts.resumeFrom, baseCheckpoint: opts.baseCheckpoint }),
    );
  }

  evaluate(): Promise<EvalJobResult> {
    return Promise.reject(new Error('the in-process stand-in learner has no evaluation'));
  }
}
