import * as tf from '@tensorflow/tfjs-core';
import type { OptimizerParams } from './types.js';

/** Warm-up steps: optimizer.warmup_steps, or ceil(warmup_ratio × steps) as Hugging Face's get_warmup_steps. */
export function warmupSteps(p: OptimizerParams, totalSteps: number): number {
  return p.warmup_steps > 0 ? p.warmup_steps : Math.ceil(p.warmup_ratio * totalSteps);
}

/**
 * Linear warm-up, then constant or cosine decay to 0 at the last step (Hugging Face's
 * get_cosine_schedule_with_warmup, the authors' lr_scheduler_type cosine). `step` counts from 1 and is the step
 * about to be taken: Hugging Face evaluates its lambda at the 0-based step, so its first update uses lr 0 and its
 * last lr·(1+cos(π(N−1−W)/(N−W)))/2; here the first uses lr/W and the last exactly 0 (one step later throughout).
 */
export function learningRate(p: OptimizerParams, step: number, totalSteps: number): number {
  const warmup = warmupSteps(p, totalSteps);
  if (warmup > 0 && step <= warmup) return (p.lr * step) / warmup;
  if (p.schedule === 'constant') return p.lr;
  const span = Math.max(1, totalSteps - warmup);
  const progress = Math.min(1, (step - warmup) / span);
  return 0.5 * p.lr * (1 + Math.cos(Math.PI * progress));
}

/** sqrt(Σ g²) over every gradient, read back as a number. */
export async function globalNorm(grads: tf.Tensor[]): Promise<number> {
  // Summed on the host one gradient at a time, so only one gradient's square is alive at once.
  let sq = 0;
  for (const g of grads) {
    const s = tf.tidy(() => tf.sum(tf.square(g)));
    sq += (await s.data())[0];
    s.dispose();
  }
  return Math.sqrt(sq);
}

/**
 * AdamW (decoupled weight decay) with global-norm clipping. Written here rather than using tf.train.adam because
 * the moments must be named tensors we can checkpoint and restore bit-exactly, and tfjs has no decoupled decay.
 * Decay skips 1-D parameters (norm scales, biases), as is usual for transformers.
 */
export class AdamW {
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly opts: OptimizerParams,
  ) {
    // tf.variable keeps its initial tensor alive as a separate handle; tidy frees the zeros, not the variables.
    tf.tidy(() => {
      for (const [name, p] of params) {
        this.m.set(name, tf.variable(tf.zerosLike(p), false, `adam_m/${name}/${p.id}`));
        this.v.set(name, tf.variable(tf.zerosLike(p), false, `adam_v/${name}/${p.id}`));
      }
    });
  }

  get stepCount(): number {
    return this.t;
  }

  /**
   * Clips, then updates every parameter that has a gradient. Returns the pre-clip global gradient norm and the
   * norm of the update actually applied (‖θ_{t+1} − θ_t‖, the ηG of Lemma 3.2).
   */
  async apply(grads: Map<string, tf.Tensor>, lr: number): Promise<{ gradNorm: number; updateNorm: number }> {
    const list = [...grads.values()];
    const norm = await globalNorm(list);
    const clip = this.opts.clip_grad_norm;
    const scale = clip > 0 && norm > clip ? clip / (norm + 1e-6) : 1;
    this.t += 1;
    const { beta1: b1, beta2: b2, eps, weight_decay: wd } = this.opts;
    const bc1 = 1 - b1 ** this.t;
    const bc2 = 1 - b2 ** this.t;
    // One tidy per parameter: a tidy around the whole loop would keep every parameter's temporaries (about ten
    // parameter-sized tensors each) alive until the end, i.e. several copies of the model at the peak.
    let updateSq = 0;
    for (const [name, g0] of grads) {
      const p = this.params.get(name);
      if (!p) throw new Error(`AdamW: gradient for unknown parameter ${name}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const sq = tf.tidy(() => {
        const g = scale === 1 ? g0 : tf.mul(g0, scale);
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const update = tf.div(tf.div(m, bc1), tf.add(tf.sqrt(tf.div(v, bc2)), eps));
        const decay = wd > 0 && p.rank > 1 ? tf.mul(p, wd) : null;
        const delta = tf.mul(decay ? tf.add(update, decay) : update, lr);
        p.assign(tf.sub(p, delta));
        return tf.sum(tf.square(delta));
      });
      updateSq += (await sq.data())[0];
      sq.dispose();
    }
    const updateNorm = Math.sqrt(updateSq);
    return { gradNorm: norm, updateNorm };
  }

  /** Moments keyed `m/<param>` and `v/<param>`, plus the step count, for checkpoints. */
  stateTensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, t] of this.m) out.set(`m/${name}`, t);
    for (const [name, t] of this.v) out.set(`v/${name}`, t);
    return out;
  }

  loadState(tensors: Map<string, tf.Tensor>, step: number): void {
    for (const [prefix, moments] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [name, t] of moments) {
        const src = tensors.get(`${prefix}/${name}`);
        if (!src) throw new Error(`checkpoint lacks optimizer state ${prefix}/${name}`);
        t.assign(src);
      }
    }
    this.t = step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
