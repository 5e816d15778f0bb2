/**
 * Float64 reference computations for the objective tests: written straight from the formulas in
 * docs/algorithm.md, independent of the tensor code they check.
 */
import * as tf from '@tensorflow/tfjs-core';

import { Rng } from '../util/random.js';

export function logSoftmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((a, x) => a + Math.exp(x - m), 0));
  return z.map((x) => x - lse);
}

export function softmax(z: readonly number[]): number[] {
  return logSoftmax(z).map(Math.exp);
}

export function entropy(z: readonly number[]): number {
  return -logSoftmax(z).reduce((a, lp) => a + Math.exp(lp) * lp, 0);
}

export function cosine(a: readonly number[], b: readonly number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i], 0);
  const na = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
  const nb = Math.sqrt(b.reduce((s, x) => s + x * x, 0));
  return dot / (na * nb);
}

/** A random rollout batch with ragged completions inside [N,T]. */
export interface RandomBatch {
  n: number;
  t: number;
  v: number;
  logits: number[][][];
  targets: number[][];
  mask: number[][];
}

export function randomBatch(seed: number, n: number, t: number, v: number, scale = 2): RandomBatch {
  const rng = new Rng(seed);
  const logits = Array.from({ length: n }, () =>
    Array.from({ length: t }, () => Array.from({ length: v }, () => rng.normal() * scale)),
  );
  const targets = Array.from({ length: n }, () => Array.from({ length: t }, () => rng.int(v)));
  // Left part is "prompt", then 1..(t-1) completion tokens, then padding: every row has a different length.
  const mask = Array.from({ length: n }, () => {
    const start = 1 + rng.int(2);
    const len = 1 + rng.int(t - start);
    return Array.from({ length: t }, (_, j) => (j >= start && j < start + len ? 1 : 0));
  });
  return { n, t, v, logits, targets, mask };
}

export function batchTensors(b: RandomBatch) {
  return {
    logits: tf.tensor3d(b.logits),
    targetIds: tf.tensor2d(b.targets, [b.n, b.t], 'int32'),
    completionMask: tf.tensor2d(b.mask),
  };
}

/** Per-row token log-probs of the targets and the per-row sum / mean over the completion. */
export function sequenceLogProbs(b: RandomBatch): {
  tok: number[][];
  sum: number[];
  mean: number[];
  len: number[];
} {
  const tok = b.logits.map((row, i) => row.map((z, j) => logSoftmax(z)[b.targets[i][j]]));
  const len = b.mask.map((m) => m.reduce((a, x) => a + x, 0));
  const sum = tok.map((row, i) => row.reduce((a, lp, j) => a + lp * b.mask[i][j], 0));
  const mean = sum.map((s, i) => s / Math.max(len[i], 1));
  return { tok, sum, mean, len };
}

export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * Math.max(1, Math.abs(expected[i])))) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]} (|diff| ${err} > ${tol})`);
    }
  }
}
