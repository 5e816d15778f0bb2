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

  /** One optimizer step down the gradient of `loss` with respect to the parameters. */
  update(lr: number, loss: () => tf.Scalar): Update {
    const { value, grads } = this.gradients(loss);
    try {
      const { gradNorm, updateNorm } = this.optimizer.apply(grads, lr);
      return { loss: value.dataSync()[0], gradNorm, updateNorm };
    } finally {
      value.dispose();
      tf.dispose([...grads.values()]);
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

/** Evaluates a loss closure without taking gradients; for steps that measure but do not update. */
export function evaluateLoss(loss: () => tf.Scalar): number {
  const t = tf.tidy(loss);
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}
