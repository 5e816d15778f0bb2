import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/random.js';
import { type ModelConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { ModelError } from './errors.js';
import { type LoraConfig, type LoraModule, loraModules } from './lora-config.js';
import { matmul } from './ops.js';
import type { TensorRecord } from './safetensors.js';

export * from './lora-config.js';

/**
 * LoRA (Hu et al. 2021, as PEFT implements it): a targeted linear y = Wx becomes y = Wx + (alpha/r)·B·A·dropout(x)
 * with A [r, in] Kaiming-uniform and B [out, r] zero, so training starts exactly at the base model. Only A and B
 * train; W stays frozen and is shared by every copy of the policy (θ, POPO's ξ).
 *
 * Like the base kernels (weight-layout.ts), adapters are held input-major — A as [in, r], B as [r, out] — so the
 * forward is x·A·B without transposes; PEFT's [r, in] / [out, r] layout is produced only at export.
 */

export const loraAName = (module: string) => `${module}.lora_A.weight`;
export const loraBName = (module: string) => `${module}.lora_B.weight`;

/** PEFT's state-dict prefix: PeftModel wraps LoraModel wraps the transformers model. */
export const PEFT_PREFIX = 'base_model.model.';

/** A tfjs-global variable name prefix per adapter set (clones coexist). */
let instances = 0;

/** The adapters of one policy: A and B per targeted linear, plus the scale and dropout they apply with. */
export class LoraAdapters {
  readonly scale: number;
  readonly modules: LoraModule[];
  private readonly vars = new Map<string, tf.Variable>();
  private readonly byModule = new Map<string, { a: tf.Variable; b: tf.Variable; index: number }>();

  private constructor(
    readonly config: LoraConfig,
    dims: ResolvedConfig,
    values: (name: string, shape: [number, number], m: LoraModule) => tf.Tensor,
  ) {
    this.scale = config.alpha / config.rank;
    this.modules = loraModules(dims, config.target_modules);
    const prefix = `lora_${instances++}/`;
    const r = config.rank;
    this.modules.forEach((m, index) => {
      const make = (name: string, shape: [number, number]) => {
        const init = values(name, shape, m);
        const v = tf.variable(init, true, prefix + name, 'float32');
        init.dispose();
        this.vars.set(name, v);
        return v;
      };
      const a = make(loraAName(m.name), [m.inDim, r]);
      const b = make(loraBName(m.name), [r, m.outDim]);
      this.byModule.set(m.name, { a, b, index });
    });
  }

  /**
   * Fresh adapters as PEFT initialises them: A ~ U(±1/√in) (kaiming_uniform_ with a = √5), B = 0. Drawn in JS
   * from the seed, so the init is the same on every backend.
   */
  static create(model: ModelConfig, config: LoraConfig, seed: number): LoraAdapters {
    const rng = new Rng(seed);
    return new LoraAdapters(config, resolveConfig(model), (name, shape, m) => {
      if (name.endsWith('lora_B.weight')) return tf.zeros(shape);
      const bound = 1 / Math.sqrt(m.inDim);
      const data = new Float32Array(shape[0] * shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = (2 * rng.next() - 1) * bound;
      return tf.tensor(data, shape);
    });
  }

  /** Adapters from records in the model layout (A [in, r], B [r, out]); missing tensors and wrong shapes throw. */
  static fromStateDict(
    model: ModelConfig,
    config: LoraConfig,
    tensors: Map<string, TensorRecord>,
    source: string,
  ): LoraAdapters {
    return new LoraAdapters(config, resolveConfig(model), (name, shape) =>
      tf.tensor(checked(tensors, name, shape, source).data, shape),
    );
  }

  /** Copy with new variables (POPO's ξ adapters). */
  clone(dims: ResolvedConfig): LoraAdapters {
    return new LoraAdapters(this.config, dims, (name) => tf.clone(this.vars.get(name)!));
  }

  /** A and B of every targeted linear, keyed `<module>.lora_A.weight` / `<module>.lora_B.weight`. */
  weights(): Map<string, tf.Variable> {
    return new Map(this.vars);
  }

  numParameters(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  has(module: string): boolean {
    return this.byModule.has(module);
  }

  /**
   * (alpha/r)·dropout(x)·A·B for a targeted module, or undefined for one LoRA leaves alone. Dropout only when
   * a seed is given (training passes); each module draws its own mask, as PEFT's per-layer nn.Dropout does.
   */
  delta(module: string, x: tf.Tensor2D, dropoutSeed?: number): tf.Tensor2D | undefined {
    const ab = this.byModule.get(module);
    if (!ab) return undefined;
    const p = this.config.dropout;
    const input =
      p > 0 && dropoutSeed !== undefined ? tf.dropout(x, p, undefined, dropoutSeed + ab.index) : x;
    const low = matmul<tf.Tensor2D>(input, ab.a);
    return tf.mul(matmul<tf.Tensor2D>(low, ab.b), this.scale);
  }

  /** ΔW = (alpha/r)·A·B in the model layout [in, out], for merging into the base kernel. */
  deltaWeight(module: string): tf.Tensor2D {
    const ab = this.byModule.get(module);
    if (!ab) throw new ModelError('missing_tensor', `LoRA: no adapter on "${module}"`);
    return tf.tidy(() => tf.mul(tf.matMul(ab.a, ab.b), this.scale));
  }

  async stateDict(): Promise<Map<string, TensorRecord>> {
    const out = new Map<string, TensorRecord>();
    for (const [name, v] of this.vars)
      out.set(name, { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(await v.data()) });
    return out;
  }

  loadStateDict(tensors: Map<string, TensorRecord>, source: string): void {
    for (const [name, v] of this.vars) {
      const rec = checked(tensors, name, v.shape as [number, number], source);
      tf.tidy(() => v.assign(tf.tensor(rec.data, v.shape)));
    }
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.byModule.clear();
  }
}

function checked(
  tensors: Map<string, TensorRecord>,
  name: string,
  shape: readonly number[],
  source: string,
): TensorRecord {
  const rec = tensors.get(name);
  if (!rec) throw new ModelError('missing_tensor', `${source}: LoRA tensor "${name}" is missing`);
  if (rec.shape.join() !== shape.join()) {
    throw new ModelError(
      'shape_mismatch',
      `${source}: LoRA tensor "${name}" has shape [${rec.shape.join(', ')}], expected [${shape.join(', ')}]`,
    );
  }
  return rec;
}
