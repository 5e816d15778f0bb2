import type * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../../model/causal-lm.js';
import type { TensorRecord } from '../../model/safetensors.js';
import type { Rng } from '../../util/random.js';
import type { SequenceBatch } from '../batch.js';
import type { AlgorithmMetrics, GrpoMetrics, PopoMetrics, SftMetrics, StepMetrics } from '../metrics.js';
import type { Rollout } from '../rollout.js';
import type { Example, TrainEvent } from '../types.js';

/** Named trainable tensors, keyed by the stable names the optimizer and checkpoints use. */
export type ParamSet = Map<string, tf.Variable>;

/**
 * Which tensors of a model training updates. An EMA target (POPO's ξ) tracks the same selection of its own copy,
 * so a parameter-efficient method plugs in here: LoRA selects the adapters and leaves the base frozen.
 */
export type TrainableSelector = (model: CausalLM) => ParamSet;

/** Full fine-tuning: every weight of the model. */
export const allWeights: TrainableSelector = (model) => model.weights();

/** LoRA: the adapters only; the base weights they sit on stay frozen (and shared with ξ). */
export const loraWeights: TrainableSelector = (model) => {
  if (!model.lora) throw new Error('loraWeights: the model has no LoRA adapters');
  return model.lora.weights();
};

/** What a policy trains: its adapters when it has them, else every weight. */
export const trainableOf = (model: CausalLM): TrainableSelector => (model.lora ? loraWeights : allWeights);

/**
 * The seed of one training pass's LoRA dropout masks, drawn from the run's stream only when dropout is on, so a
 * run without it draws exactly what it drew before LoRA existed.
 */
export function loraDropoutSeed(model: CausalLM, rng: Rng): number | undefined {
  return model.lora && model.lora.config.dropout > 0 ? rng.int(2 ** 31) : undefined;
}

/** Micro-batch i's dropout seed: each part draws its own masks (a module adds its index, far below the stride). */
export function partDropoutSeed(seed: number | undefined, part: number): number | undefined {
  return seed === undefined ? undefined : seed + 100_003 * part;
}

/** G sampled completions per prompt, verified, and laid out for one teacher-forced pass. */
export interface RolloutExperience {
  rollout: Rollout;
  batch: SequenceBatch;
  /** The step's prompts; rollout row r belongs to prompts[floor(r / G)]. */
  prompts: Example[];
}

/** (prompt, target) pairs laid out for one teacher-forced pass. */
export interface SupervisedExperience {
  batch: SequenceBatch;
}

export interface StepContext {
  lr: number;
  /** The run's random stream (checkpointed by the loop), for the draws a step makes. */
  rng: Rng;
}

export interface AlgorithmStep<M extends StepMetrics> {
  metrics: AlgorithmMetrics<M>;
  /** Warnings about this step; the loop stamps them with the step number. */
  events: Omit<TrainEvent, 'step'>[];
  /** Per rollout row, the weight the update gave the sample (POPO's w), for the completions hook. */
  sampleWeights?: ArrayLike<number>;
}

/**
 * The part of a checkpoint an algorithm owns. Tensor groups are stored as `<group>/<tensor>` and scalars in the
 * file's metadata, so a checkpoint stays one plain safetensors file.
 */
export interface AlgorithmState {
  tensors: Record<string, Map<string, TensorRecord>>;
  scalars: Record<string, number>;
}

/** Concatenates the state of an algorithm's parts (optimizer, EMA, predictor...); names must not collide. */
export function mergeStates(...parts: AlgorithmState[]): AlgorithmState {
  const out: AlgorithmState = { tensors: {}, scalars: {} };
  for (const p of parts) {
    for (const [k, v] of Object.entries(p.tensors)) {
      if (k in out.tensors) throw new Error(`algorithm state: tensor group "${k}" is written twice`);
      out.tensors[k] = v;
    }
    for (const [k, v] of Object.entries(p.scalars)) {
      if (k in out.scalars) throw new Error(`algorithm state: scalar "${k}" is written twice`);
      out.scalars[k] = v;
    }
  }
  return out;
}

/**
 * One training algorithm: it owns its step, every piece of state besides the policy θ and the run's random
 * stream (optimizer moments, EMA target, predictor, reference), and the algorithm-specific part of the metrics.
 */
interface AlgorithmBase<M extends StepMetrics> {
  readonly name: M['algorithm'];
  saveState(): Promise<AlgorithmState>;
  /** Restores what saveState wrote; a missing piece the algorithm needs is an error, not a silent reset. */
  loadState(state: AlgorithmState): void;
  /** Frees the algorithm's own tensors; θ belongs to the caller. */
  dispose(): void;
}

export interface RolloutAlgorithm<M extends PopoMetrics | GrpoMetrics> extends AlgorithmBase<M> {
  readonly experience: 'rollout';
  step(exp: RolloutExperience, ctx: StepContext): Promise<AlgorithmStep<M>>;
}

export interface SupervisedAlgorithm extends AlgorithmBase<SftMetrics> {
  readonly experience: 'supervised';
  step(exp: SupervisedExperience, ctx: StepContext): Promise<AlgorithmStep<SftMetrics>>;
}

export type TrainingAlgorithm =
  RolloutAlgorithm<PopoMetrics> | RolloutAlgorithm<GrpoMetrics> | SupervisedAlgorithm;
