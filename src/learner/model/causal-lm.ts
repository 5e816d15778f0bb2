import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../util/random.js';
import { type ModelConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { ModelError } from './errors.js';
import { blasKernelsActive } from '../kernels/blas-matmul.js';
import { fusedGatherRows, fusedKernels } from '../kernels/fused.js';
import { KVCache } from './kv-cache.js';
import { RopeTable } from './rope-table.js';
import { LoraAdapters } from './lora.js';
import { assertForwardFits } from './memory-plan.js';
import {
  applyRope,
  embeddingLookup,
  linear,
  matmul,
  matmulFrozenLeft,
  matmulFrozenRight,
  matmulNT,
  rmsNorm,
  ropeTables,
  rotationMatrices,
  swiglu,
} from './ops.js';
import type { TensorRecord } from './safetensors.js';
import { layerPrefix, type ParamSpec, paramSpecs } from './weight-layout.js';

export interface ForwardOptions {
  /** 1 = real token, 0 = left padding; [B, T], any numeric dtype. Defaults to all ones. */
  attentionMask?: tf.Tensor2D;
  /** Append the T new tokens to this cache (prefill or decode). Inference only. */
  cache?: KVCache;
  /** Compute logits for the last position only ([B, 1, V]); saves the lm_head on long prefills. */
  lastOnly?: boolean;
  /** false: run the base model with its LoRA adapters switched off (GRPO's reference). Default true. */
  adapters?: boolean;
  /** Seed of the LoRA dropout masks; without one (sampling, eval, ξ) the adapters run without dropout. */
  dropoutSeed?: number;
}

export interface ForwardOutput {
  logits: tf.Tensor3D; // [B, T, V] (or [B, 1, V] with lastOnly)
  hidden: tf.Tensor3D; // [B, T, H] after the final norm
}

interface LayerInputs {
  B: number;
  T: number;
  past: number;
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  additiveMask: tf.Tensor4D;
  cache?: KVCache;
  lora?: LoraAdapters;
  dropoutSeed?: number;
}

/** Additive mask value: large enough to zero a softmax weight, finite so fully masked rows stay NaN-free. */
const MASKED = -1e9;

/**
 * Decoder-only transformer of the Llama / Qwen2 family: RMSNorm, rotary embeddings, SwiGLU MLP, grouped-query
 * attention, optional q/k/v bias and tied embeddings. Weights are tf.Variables named by their HF tensor names.
 */
export class CausalLM {
  readonly config: ModelConfig;
  readonly dims: ResolvedConfig;
  private readonly vars: Map<string, tf.Variable>;
  private readonly specs: ParamSpec[];
  private readonly invFreq: tf.Tensor1D;
  private readonly ropeTable: RopeTable;
  private readonly rot: { r: tf.Tensor2D; rT: tf.Tensor2D };
  /** False for a view over another model's base weights (LoRA's ξ): those are not this object's to free. */
  private readonly ownsBase: boolean;
  private adapters?: LoraAdapters;
  private disposed = false;
  private static instances = 0;

  private constructor(
    config: ModelConfig,
    values: ((spec: ParamSpec) => tf.Tensor) | Map<string, tf.Variable>,
  ) {
    this.config = structuredClone(config);
    this.dims = resolveConfig(this.config);
    this.specs = paramSpecs(this.dims);
    this.ownsBase = !(values instanceof Map);
    if (values instanceof Map) {
      this.vars = values;
    } else {
      // tfjs registers variables by name globally, so each model gets its own prefix (clones coexist).
      const prefix = `causal_lm_${CausalLM.instances++}/`;
      this.vars = new Map();
      for (const spec of this.specs) {
        const init = values(spec);
        this.vars.set(spec.name, tf.variable(init, true, prefix + spec.name, 'float32'));
        init.dispose();
      }
    }
    this.invFreq = tf.keep(tf.tensor1d(this.dims.invFreq));
    this.ropeTable = new RopeTable(this.dims.invFreq, this.dims.maxPositions);
    const rot = rotationMatrices(this.dims.headDim);
    this.rot = { r: tf.keep(rot.r), rT: tf.keep(rot.rT) };
  }

  /** Random init, deterministic for a seed on every backend (values are drawn in JS). */
  static create(config: ModelConfig, seed: number): CausalLM {
    const rng = new Rng(seed);
    const std = resolveConfig(config).initStd;
    return new CausalLM(config, (spec) => {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      if (spec.init === 'ones') return tf.ones(spec.shape);
      if (spec.init === 'zeros') return tf.zeros(spec.shape);
      return tf.tensor(rng.normalArray(n, std), spec.shape);
    });
  }

  /**
   * Build from tensors in the model's own layout (see weight-layout.ts; e.g. a checkpoint written from
   * stateDict()). Missing tensors and wrong shapes are errors.
   */
  static fromStateDict(
    config: ModelConfig,
    tensors: Map<string, TensorRecord>,
    source = 'state dict',
  ): CausalLM {
    return new CausalLM(config, (spec) => tf.tensor(checkedRecord(spec, tensors, source).data, spec.shape));
  }

  /** Base weights keyed by Hugging Face tensor names, stable order. Linear kernels are [in, out]. */
  weights(): Map<string, tf.Variable> {
    this.assertAlive();
    return new Map(this.vars);
  }

  /** The LoRA adapters on this model, if any; with them the base weights are frozen. */
  get lora(): LoraAdapters | undefined {
    return this.adapters;
  }

  /** Put adapters on this model (it takes ownership); y = Wx + (alpha/r)·B·A·x on every targeted linear. */
  attachLora(adapters: LoraAdapters): void {
    this.assertAlive();
    if (this.adapters) throw new Error('attachLora: this model already has LoRA adapters');
    this.adapters = adapters;
  }

  /**
   * The same base weights (shared, not copied) with its own copy of the adapters: POPO's ξ under LoRA, which
   * then costs the adapters' size rather than a second model.
   */
  withSharedBase(): CausalLM {
    this.assertAlive();
    if (!this.adapters) throw new Error('withSharedBase: the model has no LoRA adapters (use clone())');
    const view = new CausalLM(this.config, new Map(this.vars));
    view.adapters = this.adapters.clone(this.dims);
    return view;
  }

  /**
   * Folds the adapters into the base, W' = W + (alpha/r)·A·B (PEFT's merge_and_unload), and drops them: the
   * model then computes the same function as a plain one. A view over shared base weights cannot merge.
   */
  mergeLora(): void {
    this.assertAlive();
    const lora = this.adapters;
    if (!lora) return;
    if (!this.ownsBase) throw new Error('mergeLora: this model shares its base weights with another');
    for (const m of lora.modules) {
      const v = this.vars.get(`${m.name}.weight`)!;
      tf.tidy(() => v.assign(tf.add(v, lora.deltaWeight(m.name))));
    }
    lora.dispose();
    this.adapters = undefined;
  }

  /** Parameter specs (names, model-layout shapes) in the order of weights(). */
  parameterSpecs(): ParamSpec[] {
    return this.specs.map((s) => ({ ...s, shape: [...s.shape] }));
  }

  numParameters(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /** Base weights copied to JS in the model layout (for checkpoints; write with writeSafetensors). */
  async stateDict(dtype: TensorRecord['dtype'] = 'F32'): Promise<Map<string, TensorRecord>> {
    this.assertAlive();
    const out = new Map<string, TensorRecord>();
    for (const spec of this.specs) {
      const data = (await this.vars.get(spec.name)!.data()) as Float32Array;
      out.set(spec.name, { dtype, shape: [...spec.shape], data: Float32Array.from(data) });
    }
    return out;
  }

  /** Overwrite every weight from model-layout tensors (e.g. resuming from a checkpoint). */
  loadStateDict(tensors: Map<string, TensorRecord>, source = 'state dict'): void {
    this.assertAlive();
    const records = this.specs.map((spec) => checkedRecord(spec, tensors, source));
    this.specs.forEach((spec, i) => {
      tf.tidy(() => this.vars.get(spec.name)!.assign(tf.tensor(records[i].data, spec.shape)));
    });
  }

  /** Copy values from another model with the same parameter shapes (no new variables). */
  copyFrom(other: CausalLM): void {
    this.assertAlive();
    for (const spec of this.specs) {
      const src = other.vars.get(spec.name);
      if (!src || src.shape.join() !== spec.shape.join()) {
        throw new ModelError(
          'shape_mismatch',
          `copyFrom: "${spec.name}" is missing or has another shape in the source model`,
        );
      }
      this.vars.get(spec.name)!.assign(src);
    }
  }

  /** Copy of this model and its adapters (new variables), e.g. for the EMA siamese policy ξ. */
  clone(): CausalLM {
    this.assertAlive();
    const copy = new CausalLM(this.config, (spec) => tf.clone(this.vars.get(spec.name)!));
    if (this.adapters) copy.adapters = this.adapters.clone(this.dims);
    return copy;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.adapters?.dispose();
    if (this.ownsBase) for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.invFreq.dispose();
    this.ropeTable.dispose();
    this.rot.r.dispose();
    this.rot.rT.dispose();
  }

  /**
   * inputIds int32 [B, T]; attentionMask (1 = real token, 0 = left padding) [B, T] optional; positions are derived
   * from the mask so left-padded prompts work. With a cache, the T new tokens are appended (prefill or decode).
   * Differentiable w.r.t. weights() when called without a cache.
   */
  forward(inputIds: tf.Tensor2D, opts: ForwardOptions = {}): ForwardOutput {
    this.assertAlive();
    if (inputIds.rank !== 2)
      throw new Error(`forward: inputIds must be [B, T], got shape [${inputIds.shape.join(', ')}]`);
    if (inputIds.dtype !== 'int32') throw new Error(`forward: inputIds must be int32, got ${inputIds.dtype}`);
    const [B, T] = inputIds.shape;
    if (T === 0) throw new Error('forward: inputIds has no tokens (T = 0)');
    const { cache } = opts;
    if (opts.attentionMask && opts.attentionMask.shape.join() !== inputIds.shape.join()) {
      throw new Error(
        `forward: attentionMask shape [${opts.attentionMask.shape.join(', ')}] must equal inputIds shape [${B}, ${T}]`,
      );
    }
    if (cache && cache.length > 0 && cache.batchSize !== B) {
      throw new Error(`forward: cache holds ${cache.batchSize} rows but inputIds has ${B}`);
    }
    const past = cache?.length ?? 0;
    if (past + T > this.dims.maxPositions) {
      throw new Error(
        `forward: ${past + T} positions exceed max_position_embeddings (${this.dims.maxPositions})`,
      );
    }
    const d = this.dims;
    const G = d.heads / d.kvHeads;
    const Tk = past + T;
    const grad = tf.engine().state.gradientDepth > 0;
    const lora = opts.adapters === false ? undefined : this.adapters;
    // Under LoRA the base gets no gradient: its matMuls skip computing one (ops.ts, matmulFrozen*).
    const frozen = grad && this.adapters !== undefined;
    assertForwardFits(d, { rows: B, queries: T, keys: Tk, lastOnly: opts.lastOnly, grad });

    // Masks and positions involve no weights: built up front, outside any gradient path.
    const { positions, keyMask, additiveMask, seen } = tf.tidy(() => {
      const newMask = opts.attentionMask ? tf.cast(opts.attentionMask, 'float32') : tf.ones([B, T]);
      const offset = cache?.seen ?? tf.zeros([B, 1]);
      const pos = tf.relu(tf.add(tf.sub(tf.cumsum(newMask, 1), 1), offset)) as tf.Tensor2D;
      const keys = (past > 0 && cache?.mask ? tf.concat([cache.mask, newMask], 1) : newMask) as tf.Tensor2D;
      const causal = new Float32Array(T * G * Tk);
      for (let t = 0; t < T; t++) {
        for (let g = 0; g < G; g++) {
          const row = (t * G + g) * Tk;
          for (let j = past + t + 1; j < Tk; j++) causal[row + j] = MASKED;
        }
      }
      // Query rows are ordered (t, g) to match the grouped layout used below: [B, 1, T·G, Tk].
      const add = tf.add(
        tf.tensor4d(causal, [1, 1, T * G, Tk]),
        tf.reshape(tf.mul(tf.sub(1, keys), MASKED), [B, 1, 1, Tk]),
      );
      return {
        positions: pos,
        keyMask: keys,
        additiveMask: add as tf.Tensor4D,
        seen: tf.add(offset, tf.sum(newMask, 1, true)) as tf.Tensor2D,
      };
    });

    let advanced = false;
    try {
      const { cos, sin } =
        fusedKernels() && d.headDim % 8 === 0
          ? this.ropeTable.tables(positions, Tk)
          : ropeTables(positions, this.invFreq);
      const w = (name: string) => this.vars.get(name) as unknown as tf.Tensor2D;
      const b = (name: string) => this.vars.get(name) as unknown as tf.Tensor1D | undefined;
      const N = B * T;
      let x = embeddingLookup(w('model.embed_tokens.weight'), tf.reshape(inputIds, [N]) as tf.Tensor1D);
      for (let i = 0; i < d.layers; i++) {
        // One scope per layer: its attention scores and MLP activations are freed before the next layer runs
        // (under a gradient tape the engine keeps its own references to what the backward pass needs).
        const prev = x;
        x = tf.tidy(() =>
          this.layer(i, prev, {
            B,
            T,
            past,
            cos,
            sin,
            additiveMask,
            cache,
            lora,
            dropoutSeed: opts.dropoutSeed,
          }),
        );
        if (!grad) prev.dispose();
      }
      const normed = rmsNorm(x, b('model.norm.weight')!, d.eps);
      const hidden = tf.reshape(normed, [B, T, d.hidden]) as tf.Tensor3D;
      // The last position's rows: a row gather on the fused path (wasm's Slice reads the whole input back).
      const lastRows = () =>
        !grad && fusedKernels()
          ? fusedGatherRows(
              normed,
              tf.tensor1d(
                Array.from({ length: B }, (_, r) => r * T + T - 1),
                'int32',
              ),
            )
          : tf.reshape(tf.slice(hidden, [0, T - 1, 0], [B, 1, d.hidden]), [B, d.hidden]);
      const last = opts.lastOnly && T > 1 ? lastRows() : normed;
      // Tied head as (E · lastᵀ)ᵀ: transposes the [rows, H] activations and [V, rows] logits instead of the whole
      // [V, H] embedding, which matters when decoding a few rows against a large vocabulary.
      // With BLAS the transpose flag is free: last · Eᵀ directly.
      const flat = d.tied
        ? blasKernelsActive()
          ? tf.matMul(last, w('model.embed_tokens.weight'), false, true)
          : tf.transpose(
              frozen
                ? matmulFrozenLeft(w('model.embed_tokens.weight'), tf.transpose(last) as tf.Tensor2D)
                : matmul(w('model.embed_tokens.weight'), tf.transpose(last)),
            )
        : frozen
          ? matmulFrozenRight(last as tf.Tensor2D, w('lm_head.weight'))
          : matmul(last, w('lm_head.weight'));
      const logits = tf.reshape(flat, [B, opts.lastOnly ? 1 : T, d.vocab]) as tf.Tensor3D;
      if (cache) {
        cache.advance(keyMask, seen);
        advanced = true;
      }
      return { logits, hidden };
    } finally {
      positions.dispose();
      additiveMask.dispose();
      if (!advanced) {
        keyMask.dispose();
        seen.dispose();
      }
    }
  }

  /** One decoder layer on the residual stream x [B·T, H]; appends this layer's keys and values to the cache. */
  private layer(i: number, x: tf.Tensor2D, s: LayerInputs): tf.Tensor2D {
    const d = this.dims;
    const { B, T, past, cos, sin, additiveMask, cache } = s;
    const frozen = this.adapters !== undefined && tf.engine().state.gradientDepth > 0;
    // A targeted linear adds (alpha/r)·dropout(x)·A·B to the frozen base product.
    const proj = (module: string, input: tf.Tensor2D): tf.Tensor2D => {
      const weight = w(`${module}.weight`);
      const bias = b(`${module}.bias`);
      const base = frozen
        ? bias
          ? tf.add<tf.Tensor2D>(matmulFrozenRight(input, weight), bias)
          : matmulFrozenRight(input, weight)
        : linear(input, weight, bias);
      const delta = s.lora?.delta(module, input, s.dropoutSeed);
      return delta ? tf.add<tf.Tensor2D>(base, delta) : base;
    };
    const G = d.heads / d.kvHeads;
    const N = B * T;
    const scale = 1 / Math.sqrt(d.headDim);
    const w = (name: string) => this.vars.get(name) as unknown as tf.Tensor2D;
    const b = (name: string) => this.vars.get(name) as unknown as tf.Tensor1D | undefined;
    const p = layerPrefix(i);
    const a = `${p}.self_attn`;
    const h = rmsNorm(x, b(`${p}.input_layernorm.weight`)!, d.eps);
    const q = proj(`${a}.q_proj`, h);
    const k = proj(`${a}.k_proj`, h);
    const v = proj(`${a}.v_proj`, h);
    const q4 = applyRope(tf.reshape(q, [B, T, d.heads, d.headDim]), cos, sin, this.rot);
    const k4 = applyRope(tf.reshape(k, [B, T, d.kvHeads, d.headDim]), cos, sin, this.rot);
    // GQA without repeating K/V: the G query heads sharing a kv head become G·T rows of one matMul.
    const Q = tf.reshape(
      tf.transpose(tf.reshape(tf.mul(q4, scale), [B, T, d.kvHeads, G * d.headDim]), [0, 2, 1, 3]),
      [B, d.kvHeads, T * G, d.headDim],
    );
    let keys = tf.transpose(k4, [0, 2, 1, 3]) as tf.Tensor4D; // [B, kv, T, hd]
    // With BLAS, V stays [B, kv, T, hd] (plain product); the stock wasm kernel wants it transposed (kv-cache.ts).
    const vTransposed = !blasKernelsActive();
    const v4 = tf.reshape(v, [B, T, d.kvHeads, d.headDim]);
    let values = tf.transpose(v4, vTransposed ? [0, 2, 3, 1] : [0, 2, 1, 3]) as tf.Tensor4D;
    if (cache) {
      const prev = cache.layers[i];
      if (prev && past > 0) {
        if (prev.vTransposed !== vTransposed) {
          throw new Error('forward: the KV cache was filled on another matMul path (BLAS on/off)');
        }
        keys = tf.concat([prev.k, keys], 2);
        values = tf.concat([prev.v, values], vTransposed ? 3 : 2);
      }
      cache.setLayer(i, { k: keys, v: values, vTransposed });
    }
    const scores = tf.add(matmulNT(Q, keys), additiveMask); // [B, kv, T·G, Tk]
    const probs = tf.softmax(scores);
    // [B, kv, T·G, hd]
    const ctx = vTransposed ? matmulNT(probs, values) : matmul<tf.Tensor4D>(probs, values);
    const merged = tf.reshape(tf.transpose(tf.reshape(ctx, [B, d.kvHeads, T, G * d.headDim]), [0, 2, 1, 3]), [
      N,
      d.heads * d.headDim,
    ]) as tf.Tensor2D;
    x = tf.add(x, proj(`${a}.o_proj`, merged));
    const h2 = rmsNorm(x, b(`${p}.post_attention_layernorm.weight`)!, d.eps);
    const m = `${p}.mlp`;
    const gate = proj(`${m}.gate_proj`, h2);
    const up = proj(`${m}.up_proj`, h2);
    x = tf.add(x, proj(`${m}.down_proj`, swiglu(gate, up)));
    return x;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('CausalLM: this model has been disposed');
  }
}

function checkedRecord(spec: ParamSpec, tensors: Map<string, TensorRecord>, source: string): TensorRecord {
  const rec = tensors.get(spec.name);
  if (!rec) throw new ModelError('missing_tensor', `${source}: tensor "${spec.name}" is missing`);
  if (rec.shape.join() !== spec.shape.join()) {
    throw new ModelError(
      'shape_mismatch',
      `${source}: tensor "${spec.name}" has shape [${rec.shape.join(', ')}], expected [${spec.shape.join(', ')}]`,
    );
  }
  return rec;
}
