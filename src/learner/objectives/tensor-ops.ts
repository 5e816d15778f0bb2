import * as tf from '@tensorflow/tfjs-core';

import { ObjectiveInputError } from './errors.js';

/**
 * Identity forward, zero gradient backward. tfjs-core has no stop_gradient op, and a trainer that calls
 * `tf.variableGrads(f)` without a var list differentiates every trainable variable the function touched, so
 * "no gradient" has to be enforced in the graph rather than by leaving a variable out of a list.
 */
export const stopGradient = tf.customGrad((...args) => {
  const x = args[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as <T extends tf.Tensor>(x: T) => T;

/** The tensors every objective reads: one rollout batch of N sequences of length T over a vocabulary of V. */
export interface ObjectiveBatch {
  /** [N,T,V] logits of the trained policy; position t predicts targetIds[t]. */
  logits: tf.Tensor3D;
  /** [N,T] int32 next-token ids. */
  targetIds: tf.Tensor2D;
  /** [N,T] float, 1 where targetIds[t] is a completion token (EOS included), 0 on prompt and padding. */
  completionMask: tf.Tensor2D;
  /**
   * The rollouts' sampling temperature: the loss reads log softmax(logits / T), the distribution the completions
   * were drawn from (TRL and the authors divide by it in every log-prob and entropy). Default 1.
   */
  temperature?: number;
}

export interface BatchShape {
  n: number;
  t: number;
  v: number;
}

export function checkObjectiveBatch(batch: ObjectiveBatch): BatchShape {
  const { logits, targetIds, completionMask } = batch;
  if (!(logits instanceof tf.Tensor) || logits.rank !== 3) {
    throw new ObjectiveInputError('logits', `must be a rank-3 tensor [N,T,V], got rank ${logits?.rank}`);
  }
  const [n, t, v] = logits.shape;
  if (
    !(targetIds instanceof tf.Tensor) ||
    targetIds.rank !== 2 ||
    targetIds.shape[0] !== n ||
    targetIds.shape[1] !== t
  ) {
    throw new ObjectiveInputError(
      'targetIds',
      `must have shape [${n},${t}] to match logits, got [${targetIds?.shape}]`,
    );
  }
  if (targetIds.dtype !== 'int32') {
    throw new ObjectiveInputError('targetIds', `must be int32 (token ids), got ${targetIds.dtype}`);
  }
  checkShape('completionMask', completionMask, [n, t]);
  return { n, t, v };
}

/** log softmax(logits / T) [N,T,V]: the policy at the temperature its completions were sampled with. */
export function temperedLogSoftmax(logits: tf.Tensor3D, temperature = 1): tf.Tensor3D {
  if (!(temperature > 0) || !Number.isFinite(temperature))
    throw new ObjectiveInputError('temperature', `must be a finite number > 0, got ${temperature}`);
  return tf.logSoftmax(temperature === 1 ? logits : tf.div(logits, temperature));
}

export function checkShape(field: string, x: tf.Tensor | undefined, shape: number[]): void {
  if (!(x instanceof tf.Tensor))
    throw new ObjectiveInputError(field, `is required and must be a tensor of shape [${shape}]`);
  if (x.rank !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
    throw new ObjectiveInputError(field, `must have shape [${shape}], got [${x.shape}]`);
  }
}

export function checkRewards(rewards: ArrayLike<number>, n: number, groupSize: number): number[] {
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new ObjectiveInputError('groupSize', `must be a positive integer, got ${groupSize}`);
  }
  if (n % groupSize !== 0) {
    throw new ObjectiveInputError('groupSize', `N=${n} sequences do not split into groups of ${groupSize}`);
  }
  if (rewards == null || rewards.length !== n) {
    throw new ObjectiveInputError(
      'rewards',
      `must hold one reward per sequence (N=${n}), got ${rewards?.length}`,
    );
  }
  const out = Array.from(rewards);
  const bad = out.findIndex((r) => !Number.isFinite(r));
  if (bad >= 0)
    throw new ObjectiveInputError('rewards', `reward ${bad} is not a finite number (${out[bad]})`);
  return out;
}

/**
 * Per-token log π(target) [N,T] by a one-hot multiply: the gradient of `gather` needs UnsortedSegmentSum,
 * which the wasm backend lacks.
 */
export function tokenLogProbs(logProbs: tf.Tensor3D, targetIds: tf.Tensor2D): tf.Tensor2D {
  const v = logProbs.shape[2];
  // int32 one-hot then cast: the wasm OneHot kernel ignores a float32 dtype and writes integer bit patterns.
  return tf.sum(tf.mul(logProbs, tf.cast(tf.oneHot(targetIds, v), 'float32')), -1);
}

/** Shannon entropy of each position's next-token distribution [N,T], from log-probs. */
export function tokenEntropy(logProbs: tf.Tensor3D): tf.Tensor2D {
  return tf.neg(tf.sum(tf.mul(tf.exp(logProbs), logProbs), -1));
}

/** Σ_t mask·x per row [N]. */
export function maskedRowSum(x: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor1D {
  return tf.sum(tf.mul(x, mask), 1);
}

/** Mean of x over masked positions of the whole batch; 0 when the mask is empty (not NaN). */
export function maskedMean(x: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.div(tf.sum(tf.mul(x, mask)), tf.maximum(tf.sum(mask), 1));
}

/** Completion length per row [N], floored at 1 so empty rows divide safely (their sums are 0 anyway). */
export function safeLengths(mask: tf.Tensor2D): tf.Tensor1D {
  return tf.maximum(tf.sum(mask, 1), 1);
}

/** tf.tidy for an object whose tensors sit in named fields (tidy's own typing wants an index signature). */
export function tidyObject<T extends object>(fn: () => T): T {
  return tf.tidy(() => fn() as unknown as tf.TensorContainer) as unknown as T;
}

/**
 * Where a micro-batch's rows sit in the step's batch, and the batch's per-row completion lengths: the losses and
 * statistics of the micro-batches are normalised by whole-batch counts, so they add up to the batch's exactly.
 */
export interface BatchPart {
  /** Row of the batch the micro-batch's first row is. */
  start: number;
  /** [N] completion tokens of every row of the batch. */
  completionLengths: ArrayLike<number>;
}

export function checkPart(part: BatchPart, n: number): void {
  const total = part.completionLengths?.length ?? 0;
  if (!Number.isInteger(part.start) || part.start < 0 || part.start + n > total) {
    throw new ObjectiveInputError(
      'part',
      `rows ${part.start}..${part.start + n} do not lie in a batch of ${total} sequences`,
    );
  }
}
