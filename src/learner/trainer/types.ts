/**
 * The trainer's public contract: what the CLI, the worker and tests pass in and get back.
 * Field names are snake_case where they mirror hyperparameters users write in YAML / JSON job specs.
 */
import type { StepMetrics } from './metrics.js';

import type { z } from 'zod';
import type { trainConfigSchema } from './run-spec.js';

/** The trainer's input, derived from the run spec (./run-spec.ts): every field with its default filled in. */
export type TrainConfig = z.output<typeof trainConfigSchema>;
export type Algorithm = TrainConfig['algorithm'];
export type PopoParams = TrainConfig['popo'];
export type GrpoParams = TrainConfig['grpo'];
export type OptimizerParams = TrainConfig['optimizer'];
export type SamplingParams = TrainConfig['sampling'];
export type DataSpec = TrainConfig['data'];
export type ModelSpec = TrainConfig['model'];

/** One verifiable problem. `completion` is the SFT target when present. */
export interface Example {
  id: string;
  problem: string;
  answer: string;
  completion?: string;
}

/** Per-algorithm step records (a common core plus each algorithm's own fields): see ./metrics.ts. */
export type {
  CoreMetrics,
  GrpoMetrics,
  PopoMetrics,
  RlMetrics,
  RolloutMetrics,
  SftMetrics,
  StepMetrics,
} from './metrics.js';

export interface EvalResult {
  step: number;
  n: number;
  k: number;
  pass_at_k: number;
  avg_at_k: number;
  examples: number;
}

export interface TrainEvent {
  level: 'info' | 'warning';
  code: string; // e.g. 'zero_positive_dominates', 'entropy_collapse'
  message: string;
  step: number;
}

/** A checkpoint is one safetensors file (theta, xi, predictor, optimizer moments) with JSON metadata inside. */
export interface CheckpointBlob {
  step: number;
  bytes: Uint8Array;
  sha256: string;
}

export type StopSignal = false | 'cancel' | 'pause';

/** One sampled completion of a step, kept for people to read (the dashboard's completions view). */
export interface CompletionSample {
  /** The prompt's index within the step and the sample's index within its group of G. */
  group: number;
  sample: number;
  prompt: string;
  answer: string;
  completion: string;
  reward: number;
  /** Judged correct by the verifier. */
  positive: boolean;
  /** The algorithm's weight of this sample in its update (POPO's w, 0 off the positive set); null when it has none. */
  weight: number | null;
}

export interface TrainHooks {
  onStep?(metrics: StepMetrics): void | Promise<void>;
  /** After onStep of an RL step: the completions of its first prompts (at most COMPLETION_GROUPS groups). */
  onCompletions?(step: number, samples: CompletionSample[]): void | Promise<void>;
  onCheckpoint?(checkpoint: CheckpointBlob): void | Promise<void>;
  onEval?(result: EvalResult): void | Promise<void>;
  onEvent?(event: TrainEvent): void | Promise<void>;
  /** A resumed run starts after `step`: anything recorded for later steps is about to be redone. */
  onResume?(step: number): void | Promise<void>;
  /** Polled once per step; a truthy answer stops the run after a checkpoint of the current step. */
  shouldStop?(): StopSignal | Promise<StopSignal>;
}

export interface TrainResult {
  status: 'completed' | 'cancelled' | 'paused';
  steps_done: number;
  backend: string;
  eval_before?: EvalResult;
  eval_after?: EvalResult;
  final_checkpoint?: CheckpointBlob;
}

// The entry point, implemented in ./train.ts:
//   train(config: TrainConfig, hooks?: TrainHooks, opts?: { resumeFrom?: CheckpointBlob; baseCheckpoint?: CheckpointBlob })
//     → Promise<TrainResult>
// defaults + validation in ./config.ts: `resolveConfig(partial) → TrainConfig` throws ConfigError {field, reason}.
// The fields themselves: ./run-spec.ts.
