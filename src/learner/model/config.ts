import { ModelError } from './errors.js';

/**
 * Model hyperparameters, named as in a Hugging Face `config.json` (Llama / Qwen2 family) so a config can be
 * read from and written to HF directories unchanged. Unknown HF fields are kept on the object.
 */
export interface ModelConfig {
  architectures?: string[];
  model_type?: string;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  rms_norm_eps?: number;
  rope_theta?: number;
  rope_scaling?: RopeScaling | null;
  vocab_size: number;
  max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
  /** Llama: bias on q/k/v/o. Qwen2 ignores it (always q/k/v bias, no o bias). */
  attention_bias?: boolean;
  mlp_bias?: boolean;
  torch_dtype?: 'float32' | 'float16' | 'bfloat16' | string;
  bos_token_id?: number | null;
  eos_token_id?: number | number[] | null;
  pad_token_id?: number | null;
  initializer_range?: number;
  hidden_act?: string;
  [extra: string]: unknown;
}

export interface RopeScaling {
  rope_type?: string;
  type?: string;
  factor?: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

/** Every derived quantity the forward pass needs, validated once. */
export interface ResolvedConfig {
  arch: 'llama' | 'qwen2';
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  eps: number;
  ropeTheta: number;
  maxPositions: number;
  tied: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  /** Per-frequency inverse wavelengths after any rope scaling, length headDim/2. */
  invFreq: Float32Array;
  initStd: number;
}

export const SUPPORTED_ARCHITECTURES = ['LlamaForCausalLM', 'Qwen2ForCausalLM'] as const;

/**
 * Built-in models created from scratch with a seed. Vocabulary 64 fits the character tokenizer of the built-in
 * tasks; special ids follow its convention (pad 0, bos 1, eos 2).
 */
export const BUILTIN_MODELS: Record<string, ModelConfig> = {
  // The demo's model: small enough that SFT + POPO take about a minute on 2 cores.
  'tiny-86k': builtin({
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 4,
  }),
  'tiny-1m': builtin({
    hidden_size: 128,
    intermediate_size: 352,
    num_hidden_layers: 6,
    num_attention_heads: 4,
    num_key_value_heads: 2,
  }),
  'tiny-10m': builtin({
    hidden_size: 320,
    intermediate_size: 864,
    num_hidden_layers: 8,
    num_attention_heads: 5,
    num_key_value_heads: 5,
  }),
};

function builtin(
  dims: Pick<
    ModelConfig,
    'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads'
  >,
): ModelConfig {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...dims,
    vocab_size: 64,
    max_position_embeddings: 1024,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    tie_word_embeddings: true,
    attention_bias: false,
    hidden_act: 'silu',
    torch_dtype: 'float32',
    initializer_range: 0.02,
    pad_token_id: 0,
    bos_token_id: 1,
    eos_token_id: 2,
  };
}

function posInt(cfg: ModelConfig, field: string, fallback?: number): number {
  const v = cfg[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ModelError(
      'invalid_config',
      `config.${field}: must be a positive integer, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function posNum(cfg: ModelConfig, field: string, fallback: number): number {
  const v = cfg[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ModelError(
      'invalid_config',
      `config.${field}: must be a positive number, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Validate a config and derive the shapes; throws ModelError naming the field and the reason. */
export function resolveConfig(cfg: ModelConfig): ResolvedConfig {
  if (cfg === null || typeof cfg !== 'object')
    throw new ModelError('invalid_config', 'config: must be an object');
  const archName =
    cfg.architectures?.[0] ?? (cfg.model_type === 'qwen2' ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(archName)) {
    throw new ModelError(
      'unsupported_architecture',
      `config.architectures: "${archName}" is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`,
    );
  }
  const arch = archName === 'Qwen2ForCausalLM' ? 'qwen2' : 'llama';
  if (cfg.hidden_act !== undefined && cfg.hidden_act !== 'silu') {
    throw new ModelError(
      'invalid_config',
      `config.hidden_act: only "silu" is supported, got "${cfg.hidden_act}"`,
    );
  }
  if (cfg.use_sliding_window === true) {
    throw new ModelError(
      'invalid_config',
      'config.use_sliding_window: sliding-window attention is not supported',
    );
  }
  const hidden = posInt(cfg, 'hidden_size');
  const heads = posInt(cfg, 'num_attention_heads');
  const kvHeads = posInt(cfg, 'num_key_value_heads', heads);
  if (heads % kvHeads !== 0) {
    throw new ModelError(
      'invalid_config',
      `config.num_key_value_heads: ${kvHeads} must divide num_attention_heads (${heads})`,
    );
  }
  if (cfg.head_dim === undefined && hidden % heads !== 0) {
    throw new ModelError(
      'invalid_config',
      `config.num_attention_heads: ${heads} must divide hidden_size (${hidden})`,
    );
  }
  const headDim = posInt(cfg, 'head_dim', hidden / heads);
  if (headDim % 2 !== 0)
    throw new ModelError(
      'invalid_config',
      `config.head_dim: must be even for rotary embeddings, got ${headDim}`,
    );
  const ropeTheta = posNum(cfg, 'rope_theta', 10000);
  const bias = cfg.attention_bias === true;
  return {
    arch,
    hidden,
    intermediate: posInt(cfg, 'intermediate_size'),
    layers: posInt(cfg, 'num_hidden_layers'),
    heads,
    kvHeads,
    headDim,
    vocab: posInt(cfg, 'vocab_size'),
    eps: posNum(cfg, 'rms_norm_eps', 1e-6),
    ropeTheta,
    maxPositions: posInt(cfg, 'max_position_embeddings', 2048),
    tied: cfg.tie_word_embeddings === true,
    qkvBias: arch === 'qwen2' ? true : bias,
    oBias: arch === 'qwen2' ? false : bias,
    mlpBias: cfg.mlp_bias === true,
    invFreq: ropeInvFreq(headDim, ropeTheta, cfg.rope_scaling ?? null),
    initStd: posNum(cfg, 'initializer_range', 0.02),
  };
}

/** HF `_compute_default_rope_parameters` plus the `linear` and `llama3` scalings (they only rescale frequencies). */
function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  // Same float32 rounding as torch: theta ** (arange(0, d, 2).float() / d), then 1 / that.
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.fround(theta ** Math.fround((2 * i) / headDim));
  if (!scaling) return inv;
  const type = scaling.rope_type ?? scaling.type ?? 'default';
  if (type === 'default') return inv;
  const factor = scaling.factor;
  if (typeof factor !== 'number' || !(factor > 0)) {
    throw new ModelError(
      'invalid_config',
      `config.rope_scaling.factor: must be a positive number, got ${factor}`,
    );
  }
  if (type === 'linear') return inv.map((f) => f / factor);
  if (type === 'llama3') {
    const low = scaling.low_freq_factor ?? 1;
    const high = scaling.high_freq_factor ?? 4;
    const orig = scaling.original_max_position_embeddings ?? 8192;
    const lowWavelen = orig / low;
    const highWavelen = orig / high;
    return inv.map((f) => {
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) return f;
      if (wavelen > lowWavelen) return f / factor;
      const smooth = (orig / wavelen - low) / (high - low);
      return (1 - smooth) * (f / factor) + smooth * f;
    });
  }
  throw new ModelError(
    'invalid_config',
    `config.rope_scaling: type "${type}" is not supported (default, linear, llama3)`,
  );
}

/** Parameter count for a config (embedding counted once when tied). */
export function countParameters(cfg: ModelConfig): number {
  const r = resolveConfig(cfg);
  const q = r.hidden * r.heads * r.headDim + (r.qkvBias ? r.heads * r.headDim : 0);
  const kv = 2 * (r.hidden * r.kvHeads * r.headDim + (r.qkvBias ? r.kvHeads * r.headDim : 0));
  const o = r.heads * r.headDim * r.hidden + (r.oBias ? r.hidden : 0);
  const mlp = 3 * r.hidden * r.intermediate + (r.mlpBias ? 2 * r.intermediate + r.hidden : 0);
  const layer = q + kv + o + mlp + 2 * r.hidden;
  const emb = r.vocab * r.hidden;
  return r.layers * layer + emb + (r.tied ? 0 : emb) + r.hidden;
}
