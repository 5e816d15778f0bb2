import type { ResolvedConfig } from './config.js';
import { ModelError } from './errors.js';
import type { TensorRecord } from './safetensors.js';

/**
 * Parameter names (Hugging Face's) and shapes. Linear kernels are held input-major, [in, out] — the transpose of
 * HF's torch.nn.Linear [out, in] — so the forward pass is a plain x @ W (wasm's transposeB matMul is ~10x
 * slower) and decoding does not re-transpose weights every token. Conversion happens only at load/save.
 */

export interface ParamSpec {
  name: string;
  /** Shape as stored in the model (input-major for linear kernels). */
  shape: number[];
  init: 'normal' | 'ones' | 'zeros';
  /** True for linear kernels: HF stores them transposed. */
  transposedInHF: boolean;
}

export function layerPrefix(i: number): string {
  return `model.layers.${i}`;
}

/** All parameters in a stable order (embedding, layers 0..L-1, final norm, lm_head). */
export function paramSpecs(c: ResolvedConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const lin = (name: string, inDim: number, outDim: number, bias: boolean) => {
    specs.push({ name: `${name}.weight`, shape: [inDim, outDim], init: 'normal', transposedInHF: true });
    if (bias) specs.push({ name: `${name}.bias`, shape: [outDim], init: 'zeros', transposedInHF: false });
  };
  const norm = (name: string) =>
    specs.push({ name: `${name}.weight`, shape: [c.hidden], init: 'ones', transposedInHF: false });
  specs.push({
    name: 'model.embed_tokens.weight',
    shape: [c.vocab, c.hidden],
    init: 'normal',
    transposedInHF: false,
  });
  const qDim = c.heads * c.headDim;
  const kvDim = c.kvHeads * c.headDim;
  for (let i = 0; i < c.layers; i++) {
    const p = layerPrefix(i);
    norm(`${p}.input_layernorm`);
    lin(`${p}.self_attn.q_proj`, c.hidden, qDim, c.qkvBias);
    lin(`${p}.self_attn.k_proj`, c.hidden, kvDim, c.qkvBias);
    lin(`${p}.self_attn.v_proj`, c.hidden, kvDim, c.qkvBias);
    lin(`${p}.self_attn.o_proj`, qDim, c.hidden, c.oBias);
    norm(`${p}.post_attention_layernorm`);
    lin(`${p}.mlp.gate_proj`, c.hidden, c.intermediate, c.mlpBias);
    lin(`${p}.mlp.up_proj`, c.hidden, c.intermediate, c.mlpBias);
    lin(`${p}.mlp.down_proj`, c.intermediate, c.hidden, c.mlpBias);
  }
  norm('model.norm');
  if (!c.tied)
    specs.push({ name: 'lm_head.weight', shape: [c.hidden, c.vocab], init: 'normal', transposedInHF: true });
  return specs;
}

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c];
  }
  return out;
}

/** Model-layout record → HF-layout record (linear kernels transposed back to [out, in]). */
export function toHFLayout(spec: ParamSpec, rec: TensorRecord): TensorRecord {
  if (!spec.transposedInHF) return rec;
  const [inDim, outDim] = spec.shape;
  return { dtype: rec.dtype, shape: [outDim, inDim], data: transpose2d(rec.data, inDim, outDim) };
}

/** HF-layout record → model layout, checking the shape against the config. */
export function fromHFLayout(spec: ParamSpec, rec: TensorRecord, source: string): TensorRecord {
  const expected = spec.transposedInHF ? [spec.shape[1], spec.shape[0]] : spec.shape;
  if (rec.shape.length !== expected.length || rec.shape.some((d, i) => d !== expected[i])) {
    throw new ModelError(
      'shape_mismatch',
      `${source}: tensor "${spec.name}" has shape [${rec.shape.join(', ')}] but the config expects [${expected.join(', ')}]`,
    );
  }
  if (!spec.transposedInHF) return rec;
  return { dtype: rec.dtype, shape: [...spec.shape], data: transpose2d(rec.data, expected[0], expected[1]) };
}
