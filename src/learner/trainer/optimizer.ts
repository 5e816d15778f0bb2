import * as tf from '@tensorflow/tfjs-core';
import { fusedAdamW, fusedKernels } from '../kernels/fused.js';
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
  // Accumulated on the device in float32, in order, one gradient's square alive at a time (no AddN over every
  // gradient: WebGPU binds one buffer per input). Float32 as before, not a float64 host sum: the clip scale
  // feeds every update, and the tiny SFT runs the tests calibrate on are chaotic in its last bits.
  let acc: tf.Tensor | undefined;
  for (const g of grads) {
    const s = tf.tidy(() => tf.sum(tf.square(g)));
    if (!acc) acc = s;
    else {
      const next = tf.add(acc, s);
      tf.dispose([acc, s]);
      acc = next;
    }
  }
  if (!acc) return 0;
  const norm = tf.sqrt(acc);
  acc.dispose();
  const value = (await norm.data())[0];
  norm.dispose();
  return value;
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
    // One parameter at a time, each temporary freed as soon as it is used: a tidy keeps all of them (about 16
    // parameter-sized tensors) to its end, and a tidy around the whole loop kept them for every parameter, i.e.
    // several copies of the model at the peak. Here at most three of one parameter's size are alive.
    let updateSq = 0;
    for (const [name, g0] of grads) {
      const p = this.params.get(name);
      if (!p) throw new Error(`AdamW: gradient for unknown parameter ${name}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const decays = wd > 0 && p.rank > 1;
      if (fusedKernels()) {
        const c = { scale, beta1: b1, beta2: b2, bc1, bc2, eps, lr, wd: decays ? wd : 0 };
        const [p1, m1, v1, sq] = fusedAdamW(p, g0, m, v, c);
        replace(p, p1);
        replace(m, m1);
        replace(v, v1);
        updateSq += (await sq.data())[0];
        sq.dispose();
        continue;
      }
      const g = scale === 1 ? g0 : tf.mul(g0, scale);
      replace(m, lerp(m, b1, g, 1 - b1));
      const g2 = tf.square(g);
      if (g !== g0) g.dispose();
      replace(v, lerp(v, b2, g2, 1 - b2));
      g2.dispose();
      const denom = consume(consume(tf.div(v, bc2), tf.sqrt), (x) => tf.add(x, eps));
      const update = consume(tf.div(m, bc1), (x) => tf.div(x, denom));
      denom.dispose();
      const decay = decays ? tf.mul(p, wd) : null;
      const delta = consume(decay ? consume(update, (x) => tf.add(x, decay)) : update, (x) => tf.mul(x, lr));
      decay?.dispose();
      const sq = tf.tidy(() => tf.sum(tf.square(delta)));
      replace(p, tf.sub(p, delta));
      delta.dispose();
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

/** a·ca + b·cb, freeing its temporaries. */
function lerp(a: tf.Tensor, ca: number, b: tf.Tensor, cb: number): tf.Tensor {
  const x = tf.mul(a, ca);
  const y = tf.mul(b, cb);
  const z = tf.add(x, y);
  x.dispose();
  y.dispose();
  return z;
}

/** f(x), freeing x. */
function consume(x: tf.Tensor, f: (x: tf.Tensor) => tf.Tensor = (t) => t): tf.Tensor {
  const y = f(x);
  if (y !== x) x.dispose();
  return y;
}

/** Points the variable at a new value and drops the caller's handle (the variable keeps the data). */
function replace(v: tf.Variable, value: tf.Tensor): void {
  v.assign(value);
  value.dispose();
}
