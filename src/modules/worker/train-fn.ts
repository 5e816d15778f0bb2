import type { CheckpointBlob, TrainConfig, TrainHooks, TrainResult } from '../../learner/trainer/types.js';

/** The trainer's entry point as the processor calls it; bound to the real `train` in the worker module. */
export type TrainFn = (
  config: TrainConfig,
  hooks: TrainHooks,
  opts: { resumeFrom?: CheckpointBlob; baseCheckpoint?: CheckpointBlob },
) => Promise<TrainResult>;

export const TRAIN_FN = Symbol('TRAIN_FN');
