import { type ModelConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { layerPrefix } from './weight-layout.js';

/** LoRA's shapes and names without tensors: what run-spec.ts and the memory planner need (no tfjs import). */

/** The projections LoRA can target, by their Hugging Face module names (PEFT's target_modules). */
export const LORA_TARGETS = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

/** PEFT's default targets for Llama / Qwen2 (q_proj, v_proj). */
export const DEFAULT_LORA_TARGETS: readonly LoraTarget[] = ['q_proj', 'v_proj'];

/** The run's `lora` section (run-spec.ts), in PEFT's vocabulary. */
export interface LoraConfig {
  rank: number;
  alpha: number;
  dropout: number;
  target_modules: LoraTarget[];
}

export interface LoraModule {
  /** HF module path, e.g. `model.layers.0.self_attn.q_proj`. */
  name: string;
  inDim: number;
  outDim: number;
}

const SUBMODULE: Record<LoraTarget, 'self_attn' | 'mlp'> = {
  q_proj: 'self_attn',
  k_proj: 'self_attn',
  v_proj: 'self_attn',
  o_proj: 'self_attn',
  gate_proj: 'mlp',
  up_proj: 'mlp',
  down_proj: 'mlp',
};

/** Every targeted linear of a model, layer by layer in LORA_TARGETS order. */
export function loraModules(d: ResolvedConfig, targets: readonly LoraTarget[]): LoraModule[] {
  const qDim = d.heads * d.headDim;
  const kvDim = d.kvHeads * d.headDim;
  const dims: Record<LoraTarget, [number, number]> = {
    q_proj: [d.hidden, qDim],
    k_proj: [d.hidden, kvDim],
    v_proj: [d.hidden, kvDim],
    o_proj: [qDim, d.hidden],
    gate_proj: [d.hidden, d.intermediate],
    up_proj: [d.hidden, d.intermediate],
    down_proj: [d.intermediate, d.hidden],
  };
  const chosen = LORA_TARGETS.filter((t) => targets.includes(t));
  const out: LoraModule[] = [];
  for (let i = 0; i < d.layers; i++) {
    for (const t of chosen) {
      const [inDim, outDim] = dims[t];
      out.push({ name: `${layerPrefix(i)}.${SUBMODULE[t]}.${t}`, inDim, outDim });
    }
  }
  return out;
}

/**
 * Trainable parameters LoRA adds to a model: r·(in + out) per targeted linear. Pure, for the memory planner
 * (optimizer moments and gradients exist only for these when LoRA is on).
 */
export function countLoraParameters(
  model: ModelConfig,
  lora: Pick<LoraConfig, 'rank' | 'target_modules'>,
): number {
  return loraModules(resolveConfig(model), lora.target_modules).reduce(
    (n, m) => n + lora.rank * (m.inDim + m.outDim),
    0,
  );
}
