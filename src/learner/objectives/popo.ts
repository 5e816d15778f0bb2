import * as tf from '@tensorflow/tfjs-core';

import { DEFAULT_CONFIG } from '../trainer/config.js';
import { pick } from '../util/pick.js';
import { Rng } from '../util/random.js';
import { ObjectiveInputError } from './errors.js';
import { groupCounts, type GroupCounts } from './groups.js';
import { keepStats, readStats, type ReadStats } from './stats.js';
import {
  checkRewards,
  checkObjectiveBatch,
  checkPart,
  checkShape,
  maskedMean,
  maskedRowSum,
  safeLengths,
  stopGradient,
  temperedLogSoftmax,
  tidyObject,
  tokenEntropy,
  tokenLogProbs,
  type BatchPart,
  type ObjectiveBatch,
} from './tensor-ops.js';

/**
 * POPO loss: L = NLL_w + α·anchor + β·L_ent, see docs/algorithm.md for the formulas and the normalisation.
 * snake_case keys so the trainer can pass its `popo` config section straight through (extra keys are ignored).
 */
export interface PopoLossOptions {
  alpha: number;
  beta: number;
  /** Std of the Gaussian noise added to the stop-gradient siamese feature. */
  sigma: number;
  weight_mode: 'softmax' | 'uniform';
  /** 'sim': cosine in representation space (the paper); 'kl': per-token KL(π_θ‖π_ξ) ablation. */
  anchor: 'sim' | 'kl';
  /** 'tokens': divide by the batch's positive-token count; 'sequence': per-sequence token mean, mean over groups. */
  nll_norm: 'tokens' | 'sequence';
  /** A completion is positive (in S+) when its reward is at least this. */
  positive_threshold: number;
}

/** The loss options' defaults are the run spec's (src/learner/trainer/run-spec.ts). */
export const POPO_LOSS_DEFAULTS: Readonly<PopoLossOptions> = Object.freeze(
  pick(DEFAULT_CONFIG.popo, [
    'alpha',
    'beta',
    'sigma',
    'weight_mode',
    'anchor',
    'nll_norm',
    'positive_threshold',
  ]),
);

/** The predictor head h_φ, or anything mapping [N,H] → [N,H] differentiably. */
export interface FeatureHead {
  apply(features: tf.Tensor2D): tf.Tensor2D;
}

export interface PopoInputs extends ObjectiveBatch {
  /** [N] verifier rewards, groups of `groupSize` consecutive sequences share a prompt. */
  rewards: ArrayLike<number>;
  groupSize: number;
  /** [N,T,H] θ's final-norm hidden states; required when alpha > 0 and anchor = 'sim'. */
  hidden?: tf.Tensor3D;
  /** [N,T,H] ξ's final-norm hidden states on the same sequences (never receives gradient). */
  siameseHidden?: tf.Tensor3D;
  /** [N,T,V] ξ's logits; required when alpha > 0 and anchor = 'kl'. */
  siameseLogits?: tf.Tensor3D;
  predictor?: FeatureHead;
  /** Pre-drawn ε [N,H] (already scaled by σ); takes precedence over noiseSeed. */
  noise?: tf.Tensor2D;
  /** Seed for ε ~ N(0, σ²) when no pre-drawn noise is given; vary it per step. */
  noiseSeed?: number;
  /**
   * The tensors hold a micro-batch of the step's batch: rewards then describe the whole batch, and every
   * whole-batch quantity (the weights over each group's S+, Σw, the token counts) is the batch's, so the
   * micro-batches' losses and gradients add up to the batch's.
   */
  part?: PopoBatchPart;
}

export interface PopoBatchPart extends BatchPart {
  /**
   * [N] θ's length-normalised sequence log-probs of the whole batch (no gradient), from which the softmax weights
   * are taken. Needed when the micro-batch splits a group; otherwise the weights are computed in the graph.
   */
  scores?: ArrayLike<number>;
}

export interface PopoStatTensors {
  loss: tf.Scalar;
  nll: tf.Scalar;
  /** −Σ w·cos / Σ w (0 unless alpha > 0 and anchor = 'sim'). */
  lSim: tf.Scalar;
  /** Σ w·mean_t KL(π_θ‖π_ξ) / Σ w (0 unless alpha > 0 and anchor = 'kl'). */
  klAnchor: tf.Scalar;
  lEnt: tf.Scalar;
  /** Mean per-token entropy (nats) over all completion tokens of all N sequences. */
  entropy: tf.Scalar;
  /** [N] importance weights w (0 on negatives). */
  weights: tf.Tensor1D;
  /** [N] length-normalised sequence log-prob (mean token log-prob over the completion). */
  seqLogProb: tf.Tensor1D;
  positiveTokens: tf.Scalar;
  completionTokens: tf.Scalar;
}

export interface PopoResult {
  loss: tf.Scalar;
  /** Kept tensors: read (and free) them with readPopoStats after the optimizer step. */
  stats: PopoStatTensors;
  /** Known on the host before any tensor work. */
  counts: GroupCounts;
}

export type PopoStats = ReadStats<PopoStatTensors> & GroupCounts;

export function resolvePopoOptions(options: Partial<PopoLossOptions> = {}): PopoLossOptions {
  const o: PopoLossOptions = { ...POPO_LOSS_DEFAULTS };
  for (const key of Object.keys(POPO_LOSS_DEFAULTS) as (keyof PopoLossOptions)[]) {
    if (options[key] !== undefined) (o as unknown as Record<string, unknown>)[key] = options[key];
  }
  for (const key of ['alpha', 'beta', 'sigma'] as const) {
    if (typeof o[key] !== 'number' || !Number.isFinite(o[key]) || o[key] < 0) {
      throw new ObjectiveInputError(`popo.${key}`, `must be a finite number >= 0, got ${o[key]}`);
    }
  }
  if (typeof o.positive_threshold !== 'number' || !Number.isFinite(o.positive_threshold)) {
    throw new ObjectiveInputError(
      'popo.positive_threshold',
      `must be a finite number, got ${o.positive_threshold}`,
    );
  }
  oneOf('popo.weight_mode', o.weight_mode, ['softmax', 'uniform']);
  oneOf('popo.anchor', o.anchor, ['sim', 'kl']);
  oneOf('popo.nll_norm', o.nll_norm, ['tokens', 'sequence']);
  return o;
}

function oneOf(field: string, value: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(value as string)) {
    throw new ObjectiveInputError(
      field,
      `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${String(value)}`,
    );
  }
}

/** S+ membership as 0/1: a completion is positive when its reward is at least the threshold. */
export function positiveMask(rewards: ArrayLike<number>, threshold: number): number[] {
  return Array.from(rewards, (r) => (r >= threshold ? 1 : 0));
}

/**
 * Builds the POPO loss for one rollout batch. Safe to call inside `optimizer.minimize(() => popoLoss(...).loss)`
 * or `tf.variableGrads`: capture the result in an outer variable and pass it to `readPopoStats` afterwards.
 */
export function popoLoss(inputs: PopoInputs, options: Partial<PopoLossOptions> = {}): PopoResult {
  const opts = resolvePopoOptions(options);
  const { n, t, v } = checkObjectiveBatch(inputs);
  const part = inputs.part;
  if (part) checkPart(part, n);
  const batchRows = part ? part.completionLengths.length : n;
  const start = part?.start ?? 0;
  const rewards = checkRewards(inputs.rewards, batchRows, inputs.groupSize);
  const g = inputs.groupSize;
  const positive = positiveMask(rewards, opts.positive_threshold);
  const counts = groupCounts(positive, g);
  const rowPositive = positive.slice(start, start + n);
  const useSim = opts.alpha > 0 && opts.anchor === 'sim';
  const useKl = opts.alpha > 0 && opts.anchor === 'kl';
  if (useSim) checkSimInputs(inputs, n, t, opts.sigma);
  if (useKl) checkShape('siameseLogits', inputs.siameseLogits, [n, t, v]);
  const wholeGroups = start % g === 0 && n % g === 0;
  // The weights as host numbers over the whole batch, when they do not need this pass's log-probs.
  const hostWeights =
    opts.weight_mode === 'uniform'
      ? positive.map((p, i) => p / Math.max(counts.positivesPerGroup[Math.floor(i / g)], 1))
      : part?.scores
        ? softmaxWeightsHost(checkScores(part.scores, batchRows), positive, g)
        : undefined;
  if (!hostWeights && !wholeGroups) {
    throw new ObjectiveInputError(
      'part.scores',
      `softmax weights of a micro-batch that splits a group (rows ${start}..${start + n}, groups of ${g}) need the whole batch's scores`,
    );
  }
  // A micro-batch divides by the whole batch's quantities (host numbers), the whole batch by its own tensors.
  // Σw is the number of groups with positives (each group's weights sum to 1).
  const batch = part
    ? {
        weightSum: hostWeights ? hostWeights.reduce((a, w) => a + w, 0) : counts.groupsWithPositives,
        positiveTokens: positive.reduce((a, p, i) => a + p * part.completionLengths[i], 0),
        completionTokens: Array.from(part.completionLengths).reduce((a, b) => a + b, 0),
      }
    : undefined;

  const { loss, stats } = tidyObject(() => {
    const mask: tf.Tensor2D = tf.cast(inputs.completionMask, 'float32');
    const logp = temperedLogSoftmax(inputs.logits, inputs.temperature);
    const tokLp = tokenLogProbs(logp, inputs.targetIds);
    const lengths: tf.Tensor1D = tf.sum(mask, 1);
    const safeLen = safeLengths(mask);
    const seqSumLp = maskedRowSum(tokLp, mask);
    const seqMeanLp: tf.Tensor1D = tf.div(seqSumLp, safeLen);
    const pos = tf.tensor1d(rowPositive, 'float32');

    const w: tf.Tensor1D = hostWeights
      ? tf.tensor1d(hostWeights.slice(start, start + n), 'float32')
      : softmaxWeights(stopGradient(seqMeanLp), pos, g);
    // Σw is floored so an all-negative batch gives exactly 0 rather than 0/0.
    const wSum: tf.Scalar | number = batch ? Math.max(batch.weightSum, 1e-12) : tf.maximum(tf.sum(w), 1e-12);

    const positiveTokens: tf.Scalar = tf.sum(tf.mul(pos, lengths));
    const nllTokens = batch ? Math.max(batch.positiveTokens, 1) : tf.maximum(positiveTokens, 1);
    const nll: tf.Scalar =
      opts.nll_norm === 'tokens'
        ? tf.div(tf.neg(tf.sum(tf.mul(w, seqSumLp))), nllTokens)
        : tf.div(tf.neg(tf.sum(tf.mul(w, seqMeanLp))), Math.max(counts.groupsWithPositives, 1));

    const entropy: tf.Scalar = batch
      ? tf.div(tf.sum(tf.mul(tokenEntropy(logp), mask)), Math.max(batch.completionTokens, 1))
      : maskedMean(tokenEntropy(logp), mask);
    const lEnt: tf.Scalar = tf.neg(entropy);

    let lSim: tf.Scalar = tf.scalar(0);
    let klAnchor: tf.Scalar = tf.scalar(0);
    if (useSim) lSim = similarityLoss(inputs, mask, safeLen, w, wSum, opts.sigma, start, batchRows);
    if (useKl) {
      const logq = stopGradient(temperedLogSoftmax(inputs.siameseLogits as tf.Tensor3D, inputs.temperature));
      const klTok = tf.sum(tf.mul(tf.exp(logp), tf.sub(logp, logq)), -1) as tf.Tensor2D;
      const seqKl: tf.Tensor1D = tf.div(maskedRowSum(klTok, mask), safeLen);
      klAnchor = tf.div(tf.sum(tf.mul(w, seqKl)), wSum);
    }

    let total: tf.Scalar = nll;
    if (useSim) total = tf.add(total, tf.mul(lSim, opts.alpha));
    if (useKl) total = tf.add(total, tf.mul(klAnchor, opts.alpha));
    // Left out of the graph when β = 0 so backprop skips the [N,T,V] entropy branch.
    if (opts.beta > 0) total = tf.add(total, tf.mul(lEnt, opts.beta));

    const statTensors: PopoStatTensors = {
      loss: total,
      nll,
      lSim,
      klAnchor,
      lEnt,
      entropy,
      weights: w,
      seqLogProb: seqMeanLp,
      positiveTokens,
      completionTokens: tf.sum(mask),
    };
    // A distinct tensor for the caller: minimize() disposes its cost, which must not free a stat (with α = β = 0
    // the total *is* the nll tensor).
    return { loss: tf.clone(total), stats: statTensors };
  });
  return { loss, stats: keepStats(stats), counts };
}

/** Reads and frees the stat tensors of a POPO step; call after the optimizer step. */
export async function readPopoStats(result: PopoResult): Promise<PopoStats> {
  return { ...(await readStats(result.stats)), ...result.counts };
}

/** The batch's statistics from its micro-batches' (normalised by whole-batch counts, so the scalars add up). */
export function combinePopoStats(parts: PopoStats[]): PopoStats {
  const out = { ...parts[0] };
  for (const key of ADDITIVE) out[key] = parts.reduce((a, p) => a + p[key], 0);
  out.weights = parts.flatMap((p) => p.weights);
  out.seqLogProb = parts.flatMap((p) => p.seqLogProb);
  return out;
}

const ADDITIVE = [
  'loss',
  'nll',
  'lSim',
  'klAnchor',
  'lEnt',
  'entropy',
  'positiveTokens',
  'completionTokens',
] as const satisfies readonly (keyof PopoStatTensors)[];

/**
 * [N] length-normalised log-probs of each sequence's completion (no gradient): the scores POPO's softmax weights
 * come from, computed as popoLoss computes them.
 */
export function sequenceScores(batch: ObjectiveBatch): tf.Tensor1D {
  return tf.tidy(() => {
    const mask = tf.cast(batch.completionMask, 'float32');
    const tokLp = tokenLogProbs(temperedLogSoftmax(batch.logits, batch.temperature), batch.targetIds);
    return tf.div(maskedRowSum(tokLp, mask), safeLengths(mask));
  });
}

function checkScores(scores: ArrayLike<number>, n: number): number[] {
  const out = Array.from(scores);
  if (out.length !== n || out.some((x) => !Number.isFinite(x)))
    throw new ObjectiveInputError(
      'part.scores',
      `must hold one finite score per sequence of the batch (N=${n})`,
    );
  return out;
}

/** softmaxWeights on the host (float64), from the whole batch's scores. */
function softmaxWeightsHost(scores: number[], positive: number[], g: number): number[] {
  const w = new Array<number>(scores.length).fill(0);
  for (let s = 0; s < scores.length; s += g) {
    let max = -Infinity;
    for (let i = s; i < s + g; i++) if (positive[i]) max = Math.max(max, scores[i]);
    if (max === -Infinity) continue;
    let z = 0;
    for (let i = s; i < s + g; i++) if (positive[i]) z += Math.exp(scores[i] - max);
    for (let i = s; i < s + g; i++) if (positive[i]) w[i] = Math.exp(scores[i] - max) / z;
  }
  return w;
}

/** w_i = softmax over the positives of group g of the (stop-gradient) scores; 0 on negatives and empty groups. */
function softmaxWeights(scores: tf.Tensor1D, pos: tf.Tensor1D, g: number): tf.Tensor1D {
  // Negatives get −1e9 so exp underflows to exactly 0; an all-negative group softmaxes to uniform and is then
  // zeroed by the final multiply.
  const masked = tf.add(tf.mul(scores, pos), tf.mul(tf.sub(pos, 1), 1e9));
  const w = tf.softmax(tf.reshape(masked, [-1, g]));
  return tf.mul(tf.reshape(w, [-1]), pos);
}

function checkSimInputs(inputs: PopoInputs, n: number, t: number, sigma: number): void {
  if (!(inputs.hidden instanceof tf.Tensor) || inputs.hidden.rank !== 3) {
    throw new ObjectiveInputError(
      'hidden',
      'θ hidden states [N,T,H] are required when alpha > 0 and anchor is sim',
    );
  }
  const h = inputs.hidden.shape[2];
  checkShape('hidden', inputs.hidden, [n, t, h]);
  checkShape('siameseHidden', inputs.siameseHidden, [n, t, h]);
  if (!inputs.predictor || typeof inputs.predictor.apply !== 'function') {
    throw new ObjectiveInputError(
      'predictor',
      'the predictor head h_φ is required when alpha > 0 and anchor is sim',
    );
  }
  if (inputs.noise !== undefined) checkShape('noise', inputs.noise, [n, h]);
  else if (sigma > 0 && !Number.isFinite(inputs.noiseSeed)) {
    throw new ObjectiveInputError(
      'noiseSeed',
      'a seed (or a pre-drawn noise tensor) is required when sigma > 0',
    );
  }
}

/** L_sim = −Σ w·cos(h_φ(f_θ), sg(f_ξ) + ε) / Σ w with f the masked mean of hidden states over completion positions. */
function similarityLoss(
  inputs: PopoInputs,
  mask: tf.Tensor2D,
  safeLen: tf.Tensor1D,
  w: tf.Tensor1D,
  wSum: tf.Scalar | number,
  sigma: number,
  start: number,
  batchRows: number,
): tf.Scalar {
  const hidden = inputs.hidden as tf.Tensor3D;
  const [n, , h] = hidden.shape;
  // Masked mean as a batched matMul [N,1,T]×[N,T,H]: ~10× faster forward+backward than a broadcast
  // multiply and sum over T (whose backward also reduces a gradient for the mask).
  const meanWeights = tf.expandDims(tf.div(mask, tf.expandDims(safeLen, 1)), 1);
  const maskedMeanOverT = (x: tf.Tensor3D) => tf.reshape(tf.matMul(meanWeights, x), [n, h]) as tf.Tensor2D;
  const fTheta = maskedMeanOverT(hidden);
  const fXi = stopGradient(maskedMeanOverT(inputs.siameseHidden as tf.Tensor3D));
  let target = fXi;
  if (inputs.noise !== undefined) target = tf.add(fXi, inputs.noise);
  else if (sigma > 0) {
    // Drawn in JS like every other random number of a run, so cpu, wasm and native backends see the same ε.
    // A micro-batch takes its rows of the whole batch's draw.
    const eps = new Rng(inputs.noiseSeed as number).normalArray(batchRows * h, sigma);
    target = tf.add(fXi, tf.tensor2d(eps.slice(start * h, (start + n) * h), [n, h]));
  }
  const pred = (inputs.predictor as FeatureHead).apply(fTheta);
  // The 1e-12 inside the sqrt keeps the gradient finite for an all-zero feature vector.
  const norm = (x: tf.Tensor2D) => tf.sqrt(tf.add(tf.sum(tf.square(x), 1), 1e-12));
  const cos = tf.div(tf.sum(tf.mul(pred, target), 1), tf.mul(norm(pred), norm(target as tf.Tensor2D)));
  return tf.neg(tf.div(tf.sum(tf.mul(w, cos)), wSum));
}

export interface PopoWarningThresholds {
  /** Warn when more than this fraction of groups has no positive completion. */
  maxZeroPositiveFraction: number;
  /** Warn when the mean per-token entropy (nats) falls below this. */
  minEntropy: number;
}

export const POPO_WARNING_DEFAULTS: Readonly<PopoWarningThresholds> = Object.freeze({
  maxZeroPositiveFraction: 0.5,
  minEntropy: 0.05,
});

export interface ObjectiveWarning {
  code: 'zero_positive_dominates' | 'entropy_collapse';
  message: string;
}

/** The conditions under which positive-only learning is known to struggle (cold start, collapsed entropy). */
export function popoWarnings(
  stats: Pick<PopoStats, 'zeroPositiveFraction' | 'entropy'>,
  thresholds: Partial<PopoWarningThresholds> = {},
): ObjectiveWarning[] {
  const th = { ...POPO_WARNING_DEFAULTS, ...thresholds };
  const out: ObjectiveWarning[] = [];
  if (stats.zeroPositiveFraction > th.maxZeroPositiveFraction) {
    out.push({
      code: 'zero_positive_dominates',
      message:
        `${(stats.zeroPositiveFraction * 100).toFixed(0)}% of prompts had no correct completion and gave no ` +
        'learning signal; consider easier data, a larger group size or a higher temperature',
    });
  }
  if (stats.entropy < th.minEntropy) {
    out.push({
      code: 'entropy_collapse',
      message: `mean token entropy ${stats.entropy.toFixed(4)} nats is below ${th.minEntropy}; exploration has collapsed`,
    });
  }
  return out;
}
