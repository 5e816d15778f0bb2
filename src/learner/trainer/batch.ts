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

/** Rows [start, end) of a batch, at the batch's own width (every micro-batch sees the same positions). */
export function sliceBatch(b: SequenceBatch, start: number, end: number): SequenceBatch {
  const w = b.length;
  return {
    n: end - start,
    length: w,
    promptWidth: b.promptWidth,
    inputIds: b.inputIds.slice(start * w, end * w),
    targetIds: b.targetIds.slice(start * w, end * w),
    attentionMask: b.attentionMask.slice(start * w, end * w),
    completionMask: b.completionMask.slice(start * w, end * w),
    completionTokens: b.completionTokens.slice(start, end),
  };
}

/**
 * Row ranges [start, end) of the micro-batches one backward pass at a time goes through: at most `size` rows
 * each (the whole batch when unset). With a group size, a range holds whole groups whenever `size` allows it, so
 * what is computed per group (POPO's softmax weights) needs nothing from another micro-batch.
 */
export function microBatchRanges(n: number, size: number | undefined, groupSize = 1): [number, number][] {
  if (size === undefined || size >= n) return [[0, n]];
  const step = groupSize > 1 && size >= groupSize ? Math.floor(size / groupSize) * groupSize : size;
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += step) out.push([s, Math.min(n, s + step)]);
  return out;
}
