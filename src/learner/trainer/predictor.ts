import * as tf from '@tensorflow/tfjs-core';

import { Rng } from '../util/random.js';

export interface PredictorOptions {
  /** H: width of the features it maps (the model's hidden size). */
  inputDim: number;
  /** d: width of the hidden layer (the run's popo.predictor_dim, 1024 by default as the authors' runs). */
  hiddenDim: number;
  seed: number;
  /** Name prefix of the variables, for checkpoints. */
  prefix?: string;
}

const LAYER_NORM_EPS = 1e-5;

/**
 * The POPO predictor head h_φ: Linear(H→d) → LayerNorm(d) → ReLU → Linear(d→H), trained together with θ, as the
 * authors' PredictorMLP (momo1443/colm2026-POPO src/popo/predictor.py, predictor_layers 2): Xavier-uniform
 * weights, zero biases, LayerNorm γ = 1 and β = 0.
 * Linear weights are stored [in, out] so apply() is a plain matMul: transposed matMuls are ~10× slower on wasm.
 */
export class Predictor {
  readonly inputDim: number;
  readonly hiddenDim: number;
  private readonly prefix: string;
  private readonly vars: Map<string, tf.Variable>;

  constructor(options: PredictorOptions) {
    const { inputDim, hiddenDim, seed } = options;
    const prefix = options.prefix ?? 'predictor';
    for (const [field, value] of [
      ['inputDim', inputDim],
      ['hiddenDim', hiddenDim],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new Error(`Predictor: ${field} must be a positive integer, got ${value}`);
      }
    }
    this.inputDim = inputDim;
    this.hiddenDim = hiddenDim;
    this.prefix = prefix;
    const rng = new Rng(seed);
    // nn.init.xavier_uniform_: U(±sqrt(6 / (fan_in + fan_out))), symmetric in the two widths.
    const xavier = (fanIn: number, fanOut: number) => {
      const bound = Math.sqrt(6 / (fanIn + fanOut));
      const out = new Float32Array(fanIn * fanOut);
      for (let i = 0; i < out.length; i++) out[i] = (2 * rng.next() - 1) * bound;
      return out;
    };
    const variable = (name: string, values: Float32Array, shape: number[]) =>
      // tfjs variable names are process-global, so the checkpoint name is only the map key: two predictors
      // (a resumed run, tests) must be able to coexist.
      [`${prefix}.${name}`, tf.tidy(() => tf.variable(tf.tensor(values, shape), true))] as const;
    this.vars = new Map([
      variable('fc1.weight', xavier(inputDim, hiddenDim), [inputDim, hiddenDim]),
      variable('fc1.bias', new Float32Array(hiddenDim), [hiddenDim]),
      variable('norm.weight', new Float32Array(hiddenDim).fill(1), [hiddenDim]),
      variable('norm.bias', new Float32Array(hiddenDim), [hiddenDim]),
      variable('fc2.weight', xavier(hiddenDim, inputDim), [hiddenDim, inputDim]),
      variable('fc2.bias', new Float32Array(inputDim), [inputDim]),
    ]);
  }

  private v(name: string): tf.Variable {
    return this.vars.get(`${this.prefix}.${name}`) as tf.Variable;
  }

  /** h_φ(f) for f: [N,H] → [N,H]. */
  apply(features: tf.Tensor2D): tf.Tensor2D {
    if (features.rank !== 2 || features.shape[1] !== this.inputDim) {
      throw new Error(`Predictor.apply: features must be [N,${this.inputDim}], got [${features.shape}]`);
    }
    return tf.tidy(() => {
      const h = tf.add(tf.matMul(features, this.v('fc1.weight')), this.v('fc1.bias'));
      const mean = tf.mean(h, 1, true);
      const centered = tf.sub(h, mean);
      const variance = tf.mean(tf.square(centered), 1, true);
      const normed = tf.div(centered, tf.sqrt(tf.add(variance, LAYER_NORM_EPS)));
      const ln = tf.add(tf.mul(normed, this.v('norm.weight')), this.v('norm.bias'));
      return tf.add(tf.matMul(tf.relu(ln), this.v('fc2.weight')), this.v('fc2.bias')) as tf.Tensor2D;
    });
  }

  /** Named variables (e.g. `predictor.fc1.weight`, stored [in, out]) for the optimizer and checkpoints. */
  variables(): Map<string, tf.Variable> {
    return new Map(this.vars);
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
  }
}
