import * as tf from '@tensorflow/tfjs-core';
import { variableRecords } from '../checkpoint.js';
import { AdamW } from '../optimizer.js';
import type { OptimizerParams } from '../types.js';
import type { AlgorithmState, ParamSet } from './algorithm.js';

export interface Update {
  loss: number;
  /** Pre-clip global gradient norm. */
  gradNorm: number;
  /** ‖θ_{t+1} − θ_t‖ of the update applied (the ηG of Lemma 3.2). */
  updateNorm: number;
}

/**
 * The trainable parameters of an algorithm and the AdamW state that updates them: one place where a loss becomes
 * a parameter update, so gradient accumulation over micro-batches has a single home.
 */
export class Updater {
  private readonly optimizer: AdamW;

  constructor(
    readonly params: ParamSet,
    options: OptimizerParams,
  ) {
    this.optimizer = new AdamW(params, options);
  }

  /** Optimizer steps taken so far. */
  get steps(): number {
    return this.optimizer.stepCount;
  }

  /**
   * One optimizer step down the gradient of the loss with respect to the parameters. The loss may come in parts
   * (micro-batches, each normalised by whole-batch quantities so that the parts sum to the batch's loss): their
   * gradients are summed before clipping and the step, so the update is the whole batch's, while only one part's
   * activations are alive at a time. Parts may be produced lazily (a generator that prepares each micro-batch's
   * tensors and frees them when asked for the next).
   */
  async update(lr: number, loss: LossParts): Promise<Update> {
    let sum: Map<string, tf.Tensor> | undefined;
    let value = 0;
    try {
      for (const part of lossParts(loss)) {
        const g = this.gradients(part);
        value += (await g.value.data())[0];
        g.value.dispose();
        sum = sum ? accumulate(sum, g.grads) : g.grads;
      }
      const { gradNorm, updateNorm } = await this.optimizer.apply(sum ?? new Map(), lr);
      return { loss: value, gradNorm, updateNorm };
    } finally {
      if (sum) tf.dispose([...sum.values()]);
    }
  }

  /**
   * tf.variableGrads keys gradients by tfjs's process-global variable names; map them back to the stable names
   * the optimizer and checkpoints use.
   */
  private gradients(f: () => tf.Scalar): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const list = [...this.params.entries()];
    const { value, grads } = tf.variableGrads(
      f,
      list.map(([, v]) => v),
    );
    const out = new Map<string, tf.Tensor>();
    for (const [name, v] of list) {
      const g = grads[v.name];
      if (g) out.set(name, g);
    }
    return { value, grads: out };
  }

  /** Moments as the `optimizer` group (m/<param>, v/<param>) and the step count as `optimizer_step`. */
  async saveState(): Promise<AlgorithmState> {
    return {
      tensors: { optimizer: await variableRecords(this.optimizer.stateTensors()) },
      scalars: { optimizer_step: this.optimizer.stepCount },
    };
  }

  loadState(state: AlgorithmState): void {
    const records = state.tensors.optimizer;
    if (!records) return;
    const moments = new Map([...records].map(([k, r]) => [k, tf.tensor(r.data, r.shape)] as const));
    try {
      this.optimizer.loadState(moments, state.scalars.optimizer_step ?? 0);
    } finally {
      tf.dispose([...moments.values()]);
    }
  }

  dispose(): void {
    this.optimizer.dispose();
  }
}

/** A loss closure, or the closures of its parts (micro-batches) whose values and gradients add up to it. */
export type LossParts = (() => tf.Scalar) | Iterable<() => tf.Scalar>;

function lossParts(loss: LossParts): Iterable<() => tf.Scalar> {
  return typeof loss === 'function' ? [loss] : loss;
}

/** sum + grads per name; both inputs are consumed (the sum's old tensors and the part's are freed). */
function accumulate(sum: Map<string, tf.Tensor>, grads: Map<string, tf.Tensor>): Map<string, tf.Tensor> {
  for (const [name, g] of grads) {
    const prev = sum.get(name);
    if (!prev) {
      sum.set(name, g);
      continue;
    }
    sum.set(name, tf.add(prev, g));
    prev.dispose();
    g.dispose();
  }
  return sum;
}

/** Evaluates a loss (or the sum of its parts) without taking gradients; for steps that measure but do not update. */
export async function evaluateLoss(loss: LossParts): Promise<number> {
  let v = 0;
  for (const part of lossParts(loss)) {
    const t = tf.tidy(part);
    v += (await t.data())[0];
    t.dispose();
  }
  return v;
}
