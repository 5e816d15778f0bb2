import * as tf from '@tensorflow/tfjs-core';

/** Token-level layout of N prompt+completion sequences for one teacher-forced forward pass. */
export interface SequenceBatch {
  n: number;
  length: number; // L − 1: positions fed to the model
  promptWidth: number;
  inputIds: Int32Array; // [n, length]
  targetIds: Int32Array; // [n, length]: the token each position predicts
  attentionMask: Float32Array; // [n, length]: 1 for real tokens, 0 for padding
  completionMask: Float32Array; // [n, length]: 1 where the target is a completion token (EOS included)
  completionTokens: number[]; // per sequence
}

/**
 * Prompts are left-padded and completions right-padded so every completion starts at the same column: the
 * layout the sampler produces, and the one the KV-cache tests check against.
 */
export function buildSequenceBatch(
  prompts: number[][],
  completions: number[][],
  padId: number,
): SequenceBatch {
  if (prompts.length !== completions.length) throw new Error('one prompt per completion expected');
  const n = prompts.length;
  const promptWidth = Math.max(...prompts.map((p) => p.length));
  const compWidth = Math.max(1, ...completions.map((c) => c.length));
  const full = promptWidth + compWidth;
  const length = full - 1;
  const inputIds = new Int32Array(n * length).fill(padId);
  const targetIds = new Int32Array(n * length).fill(padId);
  const attentionMask = new Float32Array(n * length);
  const completionMask = new Float32Array(n * length);
  for (let i = 0; i < n; i++) {
    const row = new Array<number>(full).fill(padId);
    const real = new Array<boolean>(full).fill(false);
    const p = prompts[i];
    const c = completions[i];
    p.forEach((t, j) => {
      row[promptWidth - p.length + j] = t;
      real[promptWidth - p.length + j] = true;
    });
    c.forEach((t, j) => {
      row[promptWidth + j] = t;
      real[promptWidth + j] = true;
    });
    for (let t = 0; t < length; t++) {
      inputIds[i * length + t] = row[t];
      targetIds[i * length + t] = row[t + 1];
      attentionMask[i * length + t] = real[t] ? 1 : 0;
      const target = t + 1;
      completionMask[i * length + t] = target >= promptWidth && target < promptWidth + c.length ? 1 : 0;
    }
  }
  return {
    n,
    length,
    promptWidth,
    inputIds,
    targetIds,
    attentionMask,
    completionMask,
    completionTokens: completions.map((c) => c.length),
  };
}

export interface BatchTensors {
  inputIds: tf.Tensor2D;
  targetIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  completionMask: tf.Tensor2D;
}

/** Tensors are created outside any gradient function (masks are constants of the step). */
export function batchTensors(b: SequenceBatch): BatchTensors {
  return {
    inputIds: tf.tensor2d(b.inputIds, [b.n, b.length], 'int32'),
    targetIds: tf.tensor2d(b.targetIds, [b.n, b.length], 'int32'),
    attentionMask: tf.tensor2d(b.attentionMask, [b.n, b.length]),
    completionMask: tf.tensor2d(b.completionMask, [b.n, b.length]),
  };
}

export function disposeBatch(t: BatchTensors): void {
  tf.dispose([t.inputIds, t.targetIds, t.attentionMask, t.completionMask]);
}
