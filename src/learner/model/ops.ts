import * as tf from '@tensorflow/tfjs-core';
import { blasKernelsActive } from '../kernels/blas-matmul.js';
import { fusedGatherRows, fusedKernels, fusedRmsNorm, fusedRope, fusedSwiGLU } from '../kernels/fused.js';

/**
 * Differentiable building blocks tuned for the wasm backend, where (measured on this project's machine)
 * matMul with transposeA/transposeB runs ~10x slower than a plain matMul after an explicit transpose, and
 * gather has no gradient (no UnsortedSegmentSum kernel).
 */

/** tfjs-core does not export this type from its index. */
type CustomGradientFunc<T extends tf.Tensor> = Parameters<typeof tf.customGrad<T>>[0];

/** Backends whose matMul with transpose flags is slow, so gradients transpose explicitly. */
const EXPLICIT_TRANSPOSE_BACKENDS = new Set(['wasm', 'cpu']);

/** With OpenBLAS doing wasm's matMuls, transpose flags are free: tfjs's stock gradients are then the fast ones. */
function explicitTransposes(): boolean {
  return EXPLICIT_TRANSPOSE_BACKENDS.has(tf.getBackend()) && !blasKernelsActive();
}

function swapLast2(x: tf.Tensor): tf.Tensor {
  const perm = [...Array(x.rank).keys()];
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return tf.transpose(x, perm);
}

const matmulExplicitGrad = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      return [tf.matMul(dy, swapLast2(sb)), tf.matMul(swapLast2(sa), dy)];
    },
  };
}) as unknown as CustomGradientFunc<tf.Tensor>);

/**
 * a @ b for rank 2, or rank ≥ 3 with equal batch dims. On wasm/cpu the backward pass transposes explicitly
 * instead of using tfjs's default transposeA/transposeB matMuls.
 */
export function matmul<T extends tf.Tensor>(a: tf.Tensor, b: tf.Tensor): T {
  if (explicitTransposes()) return matmulExplicitGrad(a, b) as T;
  return tf.matMul(a, b) as T;
}

const matmulNTGrad = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b, false, true),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved;
      // d(A·Bᵀ)/dA = dY·B and /dB = dYᵀ·A, both again written as X·Yᵀ with contiguous rows.
      return [
        tf.matMul(dy, swapLast2(sb), false, true),
        tf.matMul(swapLast2(dy), swapLast2(sa), false, true),
      ];
    },
  };
}) as unknown as CustomGradientFunc<tf.Tensor>);

/**
 * a @ bᵀ for batched (rank ≥ 3) operands with equal batch dims: a [..., M, K], b [..., N, K].
 * wasm runs batched matMuls with a naive loop (only 2-D, untransposed products go to XNNPACK); with transposeB
 * both operands are read along contiguous rows, about twice as fast as the plain layout. Used for attention.
 */
export function matmulNT<T extends tf.Tensor>(a: tf.Tensor, b: tf.Tensor): T {
  if (tf.getBackend() === 'wasm' && !blasKernelsActive()) return matmulNTGrad(a, b) as T;
  return tf.matMul(a, b, false, true) as T;
}

/** x [N, in] @ w [in, out] (+ bias [out]). Weights are stored input-major so the forward needs no transpose. */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D {
  const y = matmul<tf.Tensor2D>(x, w);
  return bias ? tf.add(y, bias) : y;
}

/**
 * a @ w where w gets no gradient (a frozen base kernel under LoRA). tfjs's stock matMul gradient is lazy per
 * input, but the explicit-transpose one above computes both, so frozen weights would still pay for dW = aᵀ·dy.
 */
export function matmulFrozenRight(a: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (!explicitTransposes()) return tf.matMul(a, w);
  const f = tf.customGrad(((x: tf.Tensor2D) => ({
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor2D) => tf.matMul(dy, tf.transpose(w)),
  })) as unknown as CustomGradientFunc<tf.Tensor2D>);
  return f(a) as tf.Tensor2D;
}

/** w @ b where w gets no gradient (the tied embedding as a frozen output head). */
export function matmulFrozenLeft(w: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  if (!explicitTransposes()) return tf.matMul(w, b);
  const f = tf.customGrad(((x: tf.Tensor2D) => ({
    value: tf.matMul(w, x),
    gradFunc: (dy: tf.Tensor2D) => tf.matMul(tf.transpose(w), dy),
  })) as unknown as CustomGradientFunc<tf.Tensor2D>);
  return f(b) as tf.Tensor2D;
}

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/**
 * Rows of `table` [V, H] for int32 `ids` [N] → [N, H]. Forward is a gather everywhere; where the backend has no
 * UnsortedSegmentSum (wasm) the gradient is a scatter-add done in JS, which costs O(N·H) and, unlike a one-hot
 * matMul, stays cheap for 150k-token vocabularies.
 */
export function embeddingLookup(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (hasKernel('UnsortedSegmentSum')) return tf.gather(table, ids);
  const [vocab, width] = table.shape;
  const idArr = ids.dataSync();
  for (let i = 0; i < idArr.length; i++) {
    if (idArr[i] < 0 || idArr[i] >= vocab) {
      throw new Error(
        `inputIds: token id ${idArr[i]} at position ${i} is outside the vocabulary [0, ${vocab})`,
      );
    }
  }
  const lookup = tf.customGrad(((t: tf.Tensor2D) => ({
    value:
      fusedKernels() && t.dtype === 'float32' && ids.dtype === 'int32'
        ? fusedGatherRows(t, ids)
        : tf.gather(t, ids),
    gradFunc: (dy: tf.Tensor2D) => {
      const g = dy.dataSync();
      const out = new Float32Array(vocab * width);
      for (let i = 0; i < idArr.length; i++) {
        const src = i * width;
        const dst = idArr[i] * width;
        for (let j = 0; j < width; j++) out[dst + j] += g[src + j];
      }
      return tf.tensor2d(out, [vocab, width]);
    },
  })) as unknown as CustomGradientFunc<tf.Tensor2D>);
  return lookup(table) as tf.Tensor2D;
}

/** RMSNorm over the last axis, computed in float32 like HF's LlamaRMSNorm. */
export function rmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  // The SIMD kernels work in groups of 4 floats (8 for rotary halves).
  if (fusedKernels() && weight.shape[0] % 4 === 0) return fusedRmsNorm(x, weight, eps);
  const variance = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, eps))), weight);
}

export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/** The SwiGLU MLP's silu(gate) · up. */
export function swiglu<T extends tf.Tensor>(gate: T, up: T): T {
  if (fusedKernels() && gate.size % 4 === 0) return fusedSwiGLU(gate, up);
  return tf.mul(silu(gate), up);
}

/**
 * HF's rotate_half (x → [-x2, x1]) as a matMul by a constant signed permutation R [d, d]: one kernel instead of
 * slice/neg/concat, and only the input gets a gradient (dy @ Rᵀ).
 */
export function rotationMatrices(headDim: number): { r: tf.Tensor2D; rT: tf.Tensor2D } {
  const half = headDim / 2;
  const r = new Float32Array(headDim * headDim);
  const rT = new Float32Array(headDim * headDim);
  for (let i = 0; i < half; i++) {
    // out[i] = -x[i + half]; out[i + half] = x[i]
    r[(i + half) * headDim + i] = -1;
    r[i * headDim + (i + half)] = 1;
    rT[i * headDim + (i + half)] = -1;
    rT[(i + half) * headDim + i] = 1;
  }
  return { r: tf.tensor2d(r, [headDim, headDim]), rT: tf.tensor2d(rT, [headDim, headDim]) };
}

/** cos/sin tables [B, T, 1, d] for float positions [B, T]. */
export function ropeTables(
  positions: tf.Tensor2D,
  invFreq: tf.Tensor1D,
): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  const [b, t] = positions.shape;
  const half = invFreq.shape[0];
  const freqs = tf.mul(tf.reshape(positions, [b, t, 1]), tf.reshape(invFreq, [1, 1, half]));
  const emb = tf.reshape(tf.concat([freqs, freqs], -1), [b, t, 1, 2 * half]) as tf.Tensor4D;
  return { cos: tf.cos(emb), sin: tf.sin(emb) };
}

/** x [B, T, h, d] rotated by its positions: x·cos + rotate_half(x)·sin. */
export function applyRope(
  x: tf.Tensor4D,
  cos: tf.Tensor4D,
  sin: tf.Tensor4D,
  rot: { r: tf.Tensor2D; rT: tf.Tensor2D },
): tf.Tensor4D {
  if (fusedKernels() && x.shape[3] % 8 === 0) return fusedRope(x, cos, sin);
  const [b, t, h, d] = x.shape;
  const rotate = tf.customGrad(((x2d: tf.Tensor2D) => ({
    value: tf.matMul(x2d, rot.r),
    gradFunc: (dy: tf.Tensor2D) => tf.matMul(dy, rot.rT),
  })) as unknown as CustomGradientFunc<tf.Tensor2D>);
  const rotated = tf.reshape(rotate(tf.reshape(x, [b * t * h, d])), [b, t, h, d]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}
