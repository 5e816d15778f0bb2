import * as tf from '@tensorflow/tfjs-core';
import { fusedGatherRows } from '../kernels/fused.js';

/**
 * cos/sin of one model's rotary frequencies for every position below `size`, grown on demand (doubling, capped at
 * the model's context): the fused wasm path gathers a forward's rows from it instead of computing B·T·d sines and
 * cosines per forward (Sin + Cos were 2.5% of a prefill). Values are float32 like HF's: the angle is the float32
 * product position · inv_freq; its cosine is taken in double and rounded once.
 */
export class RopeTable {
  private size = 0;
  private cos?: tf.Tensor2D;
  private sin?: tf.Tensor2D;
  private readonly invFreq: number[];

  constructor(
    invFreq: ArrayLike<number>,
    private readonly maxPositions: number,
  ) {
    this.invFreq = Array.from(invFreq, Math.fround);
  }

  /** Tables [B, T, 1, d] for integer-valued float positions [B, T], all below `limit` (call only when fusedKernels()). */
  tables(positions: tf.Tensor2D, limit: number): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
    if (limit > this.size)
      this.grow(Math.min(this.maxPositions, 2 ** Math.ceil(Math.log2(Math.max(limit, 64)))));
    const [B, T] = positions.shape;
    const d = 2 * this.invFreq.length;
    return tf.tidy(() => {
      const ids = tf.cast(tf.reshape(positions, [B * T]), 'int32') as tf.Tensor1D;
      return {
        cos: tf.reshape(fusedGatherRows(this.cos!, ids), [B, T, 1, d]) as tf.Tensor4D,
        sin: tf.reshape(fusedGatherRows(this.sin!, ids), [B, T, 1, d]) as tf.Tensor4D,
      };
    });
  }

  private grow(size: number): void {
    const half = this.invFreq.length;
    const d = 2 * half;
    const cos = new Float32Array(size * d);
    const sin = new Float32Array(size * d);
    for (let p = 0; p < size; p++) {
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(p * this.invFreq[i]);
        cos[p * d + i] = cos[p * d + i + half] = Math.cos(angle);
        sin[p * d + i] = sin[p * d + i + half] = Math.sin(angle);
      }
    }
    this.dispose();
    this.cos = tf.keep(tf.tensor2d(cos, [size, d]));
    this.sin = tf.keep(tf.tensor2d(sin, [size, d]));
    this.size = size;
  }

  dispose(): void {
    this.cos?.dispose();
    this.sin?.dispose();
    this.size = 0;
  }
}
