import * as tf from '@tensorflow/tfjs-core';

import { DEFAULT_CONFIG } from '../trainer/config.js';
import { pick } from '../util/pick.js';
import { ObjectiveInputError } from './errors.js';
import { keepStats, readStats, type ReadStats } from './stats.js';
import {
  checkObjectiveBatch,
  checkRewards,
  checkShape,
  maskedMean,
  maskedRowSum,
  safeLengths,
  stopGradient,
  checkPart,
  type BatchPart,
  temperedLogSoftmax,
  tidyObject,
  tokenEntropy,
  tokenLogProbs,
  type ObjectiveBatch,
} from './tensor-ops.js';

/** GRPO baseline; snake_case keys so the trainer's `grpo` config section passes straight through. */
export interface GrpoLossOptions {
  /** Lower clip range: the ratio is clipped below at 1 − epsilon. */
  epsilon: number;
  /** Upper clip range: the ratio is clipped above at 1 + epsilon_high (DAPO's clip-higher when > epsilon). */
  epsilon_high: number;
  /** Coefficient of the k3 KL estimator to a frozen reference; 0 disables it. */
  kl_beta: number;
  /** 'group': (r − mean_g)/std_g; 'batch': (r − mean_g)/std_batch; 'none': r − mean_g (Dr. GRPO). */
  scale_rewards: 'group' | 'batch' | 'none';
  loss_agg: 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum-norm';
  /** The constant divisor of 'seq-mean-token-sum-norm'; defaults to T. Keep it fixed across a run. */
  max_completion_length?: number;
  /** Added to the std before dividing (TRL's 1e-4), so an all-equal group gives advantage 0, not NaN. */
  std_eps: number;
}

/** The run spec's defaults (src/learner/trainer/run-spec.ts), plus std_eps, which is not a run setting. */
export const GRPO_LOSS_DEFAULTS: Readonly<GrpoLossOptions> = Object.freeze({
  ...pick(DEFAULT_CONFIG.grpo, ['epsilon', 'epsilon_high', 'kl_beta', 'scale_rewards', 'loss_agg']),
  std_eps: 1e-4,
});

export interface GrpoInputs extends ObjectiveBatch {
  rewards: ArrayLike<number>;
  groupSize: number;
  /**
   * [N,T] log π_old(target) from the policy that sampled the batch. Omit it for the first (or only) epoch on
   * fresh rollouts: the current log-probs, detached, are then the old ones (ratio 1, gradient ∇log π).
   */
  oldLogProbs?: tf.Tensor2D;
  /** [N,T] log π_ref(target) of a frozen reference; required when kl_beta > 0. */
  refLogProbs?: tf.Tensor2D;
  /** Precomputed advantages [N]; by default they come from rewards via grpoAdvantages. */
  advantages?: ArrayLike<number>;
  /** The tensors hold a micro-batch of the step's batch; rewards and advantages then describe the whole batch. */
  part?: BatchPart;
}

export interface GrpoStatTensors {
  loss: tf.Scalar;
  /** The clipped surrogate alone (loss minus the KL term). */
  pgLoss: tf.Scalar;
  /** Mean k3 KL to the reference over completion tokens (0 without a reference). */
  kl: tf.Scalar;
  /** Fraction of completion tokens whose clipped branch is active (low + high). */
  clipFraction: tf.Scalar;
  lowClipFraction: tf.Scalar;
  highClipFraction: tf.Scalar;
  ratioMean: tf.Scalar;
  entropy: tf.Scalar;
}

export interface AdvantageSummary {
  meanAdvantage: number;
  meanAbsAdvantage: number;
  /** Groups whose rewards are all equal: zero advantage, no GRPO signal. */
  zeroAdvantageGroupFraction: number;
}

export interface GrpoResult {
  loss: tf.Scalar;
  stats: GrpoStatTensors;
  advantages: number[];
  summary: AdvantageSummary;
}

export type GrpoStats = ReadStats<GrpoStatTensors> & AdvantageSummary;

export function resolveGrpoOptions(options: Partial<GrpoLossOptions> = {}): GrpoLossOptions {
  const o: GrpoLossOptions = { ...GRPO_LOSS_DEFAULTS };
  for (const key of [
    ...Object.keys(GRPO_LOSS_DEFAULTS),
    'max_completion_length',
  ] as (keyof GrpoLossOptions)[]) {
    if (options[key] !== undefined) (o as unknown as Record<string, unknown>)[key] = options[key];
  }
  const finiteNonNeg = (key: 'epsilon' | 'epsilon_high' | 'kl_beta' | 'std_eps') => {
    if (typeof o[key] !== 'number' || !Number.isFinite(o[key]) || o[key] < 0) {
      throw new ObjectiveInputError(`grpo.${key}`, `must be a finite number >= 0, got ${o[key]}`);
    }
  };
  (['epsilon', 'epsilon_high', 'kl_beta', 'std_eps'] as const).forEach(finiteNonNeg);
  if (o.epsilon >= 1)
    throw new ObjectiveInputError(
      'grpo.epsilon',
      `must be < 1 (the ratio floor is 1 − epsilon), got ${o.epsilon}`,
    );
  if (!['group', 'batch', 'none'].includes(o.scale_rewards)) {
    throw new ObjectiveInputError(
      'grpo.scale_rewards',
      `must be 'group', 'batch' or 'none', got ${String(o.scale_rewards)}`,
    );
  }
  if (!['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'].includes(o.loss_agg)) {
    throw new ObjectiveInputError(
      'grpo.loss_agg',
      `must be 'token-mean', 'seq-mean-token-mean' or 'seq-mean-token-sum-norm', got ${String(o.loss_agg)}`,
    );
  }
  if (
    o.max_completion_length !== undefined &&
    !(Number.isInteger(o.max_completion_length) && o.max_completion_length > 0)
  ) {
    throw new ObjectiveInputError(
      'grpo.max_completion_length',
      `must be a positive integer, got ${o.max_completion_length}`,
    );
  }
  return o;
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

/** Sample standard deviation (n − 1), as torch.std in TRL; 0 for a single value. */
function std(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
}

/**
 * Group-relative advantages A_i = (r_i − mean_group(r)) / (std + std_eps), the std being the group's, the batch's
 * or none at all. Host-side: rewards come from the verifier, and the trainer reuses them across μ epochs.
 */
export function grpoAdvantages(
  rewards: ArrayLike<number>,
  groupSize: number,
  scale: GrpoLossOptions['scale_rewards'] = 'group',
  stdEps = GRPO_LOSS_DEFAULTS.std_eps,
): number[] {
  const r = checkRewards(rewards, rewards?.length ?? 0, groupSize);
  const batchStd = std(r);
  const out: number[] = [];
  for (let g = 0; g < r.length / groupSize; g++) {
    const group = r.slice(g * groupSize, (g + 1) * groupSize);
    const m = mean(group);
    const s = scale === 'group' ? std(group) : batchStd;
    for (const x of group) out.push(scale === 'none' ? x - m : (x - m) / (s + stdEps));
  }
  return out;
}

/**
 * Clipped-surrogate GRPO loss with optional k3 KL; call it once per optimisation epoch over the same rollouts
 * (pass the sampling policy's log-probs as oldLogProbs from the second epoch on, or always).
 */
export function grpoLoss(inputs: GrpoInputs, options: Partial<GrpoLossOptions> = {}): GrpoResult {
  const opts = resolveGrpoOptions(options);
  const { n, t } = checkObjectiveBatch(inputs);
  const part = inputs.part;
  const batchRows = part ? part.completionLengths.length : n;
  if (part) checkPart(part, n);
  const rewards = checkRewards(inputs.rewards, batchRows, inputs.groupSize);
  let advantages: number[];
  if (inputs.advantages !== undefined) {
    advantages = checkRewards(inputs.advantages, batchRows, inputs.groupSize);
  } else {
    advantages = grpoAdvantages(rewards, inputs.groupSize, opts.scale_rewards, opts.std_eps);
  }
  const start = part?.start ?? 0;
  const rowAdvantages = advantages.slice(start, start + n);
  // Whole-batch normalisers of a micro-batch (host numbers); the batch's own tensors otherwise.
  const norm = part
    ? { tokens: Array.from(part.completionLengths).reduce((a, b) => a + b, 0), sequences: batchRows }
    : undefined;
  if (inputs.oldLogProbs !== undefined) checkShape('oldLogProbs', inputs.oldLogProbs, [n, t]);
  if (opts.kl_beta > 0) checkShape('refLogProbs', inputs.refLogProbs, [n, t]);
  else if (inputs.refLogProbs !== undefined) checkShape('refLogProbs', inputs.refLogProbs, [n, t]);
  const summary = summarise(rewards, advantages, inputs.groupSize);
  const lMax = opts.max_completion_length ?? t;

  const { loss, stats } = tidyObject(() => {
    const mask: tf.Tensor2D = tf.cast(inputs.completionMask, 'float32');
    const tokenMean = (x: tf.Tensor, m: tf.Tensor): tf.Scalar =>
      norm ? tf.div(tf.sum(tf.mul(x, m)), Math.max(norm.tokens, 1)) : maskedMean(x, m);
    const logp = temperedLogSoftmax(inputs.logits, inputs.temperature);
    const lp = tokenLogProbs(logp, inputs.targetIds);
    const old = inputs.oldLogProbs ?? stopGradient(lp);
    const ratio = tf.exp(tf.sub(lp, old));
    const adv = tf.tensor2d(rowAdvantages, [n, 1]);
    const unclipped = tf.mul(ratio, adv);
    const clipped = tf.mul(tf.clipByValue(ratio, 1 - opts.epsilon, 1 + opts.epsilon_high), adv);
    const pgTok: tf.Tensor2D = tf.neg(tf.minimum(unclipped, clipped));
    let perTok = pgTok;
    let kl: tf.Scalar = tf.scalar(0);
    if (inputs.refLogProbs !== undefined) {
      // k3 = exp(ref − lp) − (ref − lp) − 1: unbiased for KL(π‖π_ref) under samples from π, and ≥ 0.
      const d = tf.sub(inputs.refLogProbs, lp);
      const k3: tf.Tensor2D = tf.sub(tf.sub(tf.exp(d), d), 1);
      kl = tokenMean(k3, mask);
      if (opts.kl_beta > 0) perTok = tf.add(pgTok, tf.mul(k3, opts.kl_beta));
    }
    const low = tf.logicalAnd(tf.less(ratio, 1 - opts.epsilon), tf.less(adv, 0));
    const high = tf.logicalAnd(tf.greater(ratio, 1 + opts.epsilon_high), tf.greater(adv, 0));
    const lowFrac = tokenMean(tf.cast(low, 'float32'), mask);
    const highFrac = tokenMean(tf.cast(high, 'float32'), mask);
    const total = aggregate(perTok, mask, opts.loss_agg, lMax, norm);
    const statTensors: GrpoStatTensors = {
      loss: total,
      pgLoss: opts.kl_beta > 0 ? aggregate(pgTok, mask, opts.loss_agg, lMax, norm) : total,
      kl,
      clipFraction: tf.add(lowFrac, highFrac),
      lowClipFraction: lowFrac,
      highClipFraction: highFrac,
      ratioMean: tokenMean(ratio, mask),
      entropy: tokenMean(tokenEntropy(logp), mask),
    };
    // Distinct from every stat: minimize() disposes the tensor it is handed.
    return { loss: tf.clone(total), stats: statTensors };
  });
  return { loss, stats: keepStats(stats), advantages, summary };
}

/**
 * Reduces per-token losses [N,T] to the scalar loss. With `norm` (a micro-batch) the batch's token and sequence
 * counts divide instead of the micro-batch's own, so the micro-batches' losses sum to the batch's.
 */
export function aggregate(
  perToken: tf.Tensor2D,
  mask: tf.Tensor2D,
  mode: GrpoLossOptions['loss_agg'],
  maxCompletionLength: number,
  norm?: { tokens: number; sequences: number },
): tf.Scalar {
  return tf.tidy(() => {
    if (norm) {
      switch (mode) {
        case 'token-mean':
          return tf.div(tf.sum(tf.mul(perToken, mask)), Math.max(norm.tokens, 1));
        case 'seq-mean-token-mean':
          return tf.div(tf.sum(tf.div(maskedRowSum(perToken, mask), safeLengths(mask))), norm.sequences);
        case 'seq-mean-token-sum-norm':
          return tf.div(tf.sum(maskedRowSum(perToken, mask)), norm.sequences * maxCompletionLength);
      }
    }
    switch (mode) {
      case 'token-mean':
        return maskedMean(perToken, mask);
      case 'seq-mean-token-mean':
        return tf.mean(tf.div(maskedRowSum(perToken, mask), safeLengths(mask))) as tf.Scalar;
      case 'seq-mean-token-sum-norm':
        return tf.div(tf.mean(maskedRowSum(perToken, mask)), maxCompletionLength) as tf.Scalar;
    }
  });
}

function summarise(rewards: number[], advantages: number[], g: number): AdvantageSummary {
  let flat = 0;
  for (let i = 0; i < rewards.length; i += g) {
    const group = rewards.slice(i, i + g);
    if (group.every((r) => r === group[0])) flat++;
  }
  return {
    meanAdvantage: mean(advantages),
    meanAbsAdvantage: mean(advantages.map(Math.abs)),
    zeroAdvantageGroupFraction: flat / (rewards.length / g),
  };
}

export async function readGrpoStats(result: GrpoResult): Promise<GrpoStats> {
  return { ...(await readStats(result.stats)), ...result.summary };
}

/** The batch's statistics from its micro-batches' (each normalised by whole-batch counts, so they add up). */
export function combineGrpoStats(parts: GrpoStats[]): GrpoStats {
  const out = { ...parts[0] };
  for (const key of STAT_KEYS) out[key] = parts.reduce((a, p) => a + p[key], 0);
  return out;
}

const STAT_KEYS = [
  'loss',
  'pgLoss',
  'kl',
  'clipFraction',
  'lowClipFraction',
  'highClipFraction',
  'ratioMean',
  'entropy',
] as const satisfies readonly (keyof GrpoStatTensors)[];
