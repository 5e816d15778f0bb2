import * as tf from '@tensorflow/tfjs-core';

/**
 * Keys are [B, kv, T, hd]. Values are [B, kv, T, hd] when OpenBLAS runs the matMuls (a plain product, and the new
 * positions append as contiguous blocks), else transposed [B, kv, hd, T] so that the stock wasm kernel's products
 * are both a·bᵀ with contiguous rows (see matmulNT). `vTransposed` says which. New positions are concatenated on
 * the T axis.
 */
export interface LayerKV {
  k: tf.Tensor4D;
  v: tf.Tensor4D;
  vTransposed: boolean;
}

/**
 * Past keys/values for incremental decoding (inference only: never use a cache inside a gradient function,
 * since updating it disposes the previous tensors). The cache owns its tensors: they survive tf.tidy and are
 * released by dispose().
 */
export class KVCache {
  readonly layers: (LayerKV | null)[];
  /** 1 = real token, 0 = padding, for every cached position: [B, length]. */
  mask: tf.Tensor2D | null = null;
  /** Real tokens seen so far per row [B, 1]: the next token's rotary position. */
  seen: tf.Tensor2D | null = null;
  length = 0;
  batchSize = 0;

  constructor(numLayers: number) {
    this.layers = new Array<LayerKV | null>(numLayers).fill(null);
  }

  /** Replace a layer's entry, keeping the new tensors out of any enclosing tidy and freeing the old ones. */
  setLayer(i: number, kv: LayerKV): void {
    const old = this.layers[i];
    this.layers[i] = { k: tf.keep(kv.k), v: tf.keep(kv.v), vTransposed: kv.vTransposed };
    if (old) {
      if (old.k !== kv.k) old.k.dispose();
      if (old.v !== kv.v) old.v.dispose();
    }
  }

  /** Record the positions just appended (called once per forward, after all layers). */
  advance(mask: tf.Tensor2D, seen: tf.Tensor2D): void {
    const [oldMask, oldSeen] = [this.mask, this.seen];
    this.mask = tf.keep(mask);
    this.seen = tf.keep(seen);
    if (oldMask && oldMask !== mask) oldMask.dispose();
    if (oldSeen && oldSeen !== seen) oldSeen.dispose();
    this.length = mask.shape[1];
    this.batchSize = mask.shape[0];
  }

  /**
   * Reorder / repeat batch rows in place: row i of the result is old row `rows[i]`. Used to prefill B prompts once
   * and then decode G samples of each (rows = [0,0,…,1,1,…]).
   */
  selectRows(rows: number[]): void {
    if (!this.mask || !this.seen) throw new Error('KVCache.selectRows: the cache is empty');
    const idx = tf.tensor1d(rows, 'int32');
    try {
      for (let i = 0; i < this.layers.length; i++) {
        const l = this.layers[i];
        if (l) this.setLayer(i, { ...l, k: tf.gather(l.k, idx), v: tf.gather(l.v, idx) });
      }
      this.advance(tf.gather(this.mask, idx), tf.gather(this.seen, idx));
    } finally {
      idx.dispose();
    }
  }

  dispose(): void {
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      if (l) {
        l.k.dispose();
        l.v.dispose();
      }
      this.layers[i] = null;
    }
    this.mask?.dispose();
    this.seen?.dispose();
    this.mask = null;
    this.seen = null;
    this.length = 0;
    this.batchSize = 0;
  }
}
