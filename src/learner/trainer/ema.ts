import * as tf from '@tensorflow/tfjs-core';

function checkPairs(target: readonly tf.Tensor[], source: readonly tf.Tensor[], what: string): void {
  if (target.length !== source.length) {
    throw new Error(`${what}: ${target.length} target tensors but ${source.length} source tensors`);
  }
  target.forEach((t, i) => {
    const s = source[i];
    if (t.shape.length !== s.shape.length || t.shape.some((d, j) => d !== s.shape[j])) {
      throw new Error(`${what}: tensor ${i} has shape [${t.shape}] in target but [${s.shape}] in source`);
    }
  });
}

/**
 * The siamese update ξ ← τξ + (1−τ)θ, in place, after each optimizer step. τ = 1 freezes ξ (the "no EMA"
 * ablation); τ = 0 copies θ.
 */
export function emaUpdate(target: readonly tf.Variable[], source: readonly tf.Tensor[], tau: number): void {
  if (typeof tau !== 'number' || !(tau >= 0 && tau <= 1)) {
    throw new Error(`emaUpdate: tau must be a number in [0, 1], got ${tau}`);
  }
  checkPairs(target, source, 'emaUpdate');
  if (tau === 1) return;
  tf.tidy(() => {
    target.forEach((xi, i) => {
      xi.assign(tf.add(tf.mul(xi, tau), tf.mul(source[i], 1 - tau)));
    });
  });
}

/** Global L2 norm of a − b over all tensors: ‖θ − ξ‖ as one number. */
export async function paramDistance(a: readonly tf.Tensor[], b: readonly tf.Tensor[]): Promise<number> {
  checkPairs(a, b, 'paramDistance');
  if (a.length === 0) return 0;
  // One parameter at a time, summed on the host: an AddN over every parameter binds one buffer per input, past
  // WebGPU's per-shader limit (the pipeline is invalid and the sum garbage), and keeps every difference alive.
  let value = 0;
  for (let i = 0; i < a.length; i++) {
    const sq = tf.tidy(() => tf.sum(tf.square(tf.sub(a[i], b[i]))));
    value += (await sq.data())[0];
    sq.dispose();
  }
  return Math.sqrt(value);
}

/**
 * Lemma 3.2: with ξ₀ = θ₀ and every update ‖θ_{t+1} − θ_t‖ ≤ ηG_max, the EMA keeps ‖θ_t − ξ_t‖ ≤ τηG_max/(1−τ).
 * Infinite for τ = 1 (a frozen ξ is not bounded by the lemma).
 */
export function driftBound(tau: number, lr: number, gMax: number): number {
  if (!(tau >= 0 && tau <= 1)) throw new Error(`driftBound: tau must be in [0, 1], got ${tau}`);
  if (tau === 1) return Number.POSITIVE_INFINITY;
  return (tau * lr * gMax) / (1 - tau);
}

/**
 * Running form of the Lemma 3.2 bound. It takes the norm of the *actual* parameter update of each step, which is
 * ηG for SGD and also covers Adam, weight decay and clipping (there ηG_max is just the largest step taken).
 */
export class DriftBoundTracker {
  private maxUpdate = 0;

  constructor(readonly tau: number) {
    driftBound(tau, 1, 0);
  }

  /** Record ‖θ_{t+1} − θ_t‖ of the step just taken; returns the bound for the drift after its EMA update. */
  observe(updateNorm: number): number {
    if (!Number.isFinite(updateNorm) || updateNorm < 0) {
      throw new Error(
        `DriftBoundTracker.observe: update norm must be a finite number >= 0, got ${updateNorm}`,
      );
    }
    this.maxUpdate = Math.max(this.maxUpdate, updateNorm);
    return this.bound();
  }

  bound(): number {
    return driftBound(this.tau, 1, this.maxUpdate);
  }

  /** Largest update seen so far (ηG_max); checkpoint it to resume the bound. */
  get maxUpdateNorm(): number {
    return this.maxUpdate;
  }

  set maxUpdateNorm(value: number) {
    this.maxUpdate = value;
  }
}
