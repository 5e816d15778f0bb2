import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LORA_TARGETS, loraAName, loraBName, PEFT_PREFIX, type LoraAdapters } from './lora.js';
import { type TensorRecord, writeSafetensors } from './safetensors.js';
import { transpose2d } from './weight-layout.js';

/**
 * PEFT's adapter directory (what `PeftModel.save_pretrained` writes and `PeftModel.from_pretrained` reads):
 * adapter_config.json + adapter_model.safetensors, tensors named `base_model.model.<module>.lora_A.weight` in
 * torch's nn.Linear layout (A [r, in], B [out, r]).
 */

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** adapter_config.json for a LoRA config; keys as PEFT's LoraConfig names them. */
export function peftAdapterConfig(lora: LoraAdapters, baseModel: string | null): Record<string, unknown> {
  const c = lora.config;
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModel,
    revision: null,
    r: c.rank,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: LORA_TARGETS.filter((t) => c.target_modules.includes(t)),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    use_rslora: false,
    use_dora: false,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
}

/** The adapters under PEFT's names and layout. */
export async function peftStateDict(lora: LoraAdapters): Promise<Map<string, TensorRecord>> {
  const own = await lora.stateDict();
  const r = lora.config.rank;
  const out = new Map<string, TensorRecord>();
  for (const m of lora.modules) {
    const a = own.get(loraAName(m.name))!; // [in, r]
    const b = own.get(loraBName(m.name))!; // [r, out]
    out.set(PEFT_PREFIX + loraAName(m.name), {
      dtype: 'F32',
      shape: [r, m.inDim],
      data: transpose2d(a.data, m.inDim, r),
    });
    out.set(PEFT_PREFIX + loraBName(m.name), {
      dtype: 'F32',
      shape: [m.outDim, r],
      data: transpose2d(b.data, r, m.outDim),
    });
  }
  return out;
}

export interface PeftSaveOptions {
  /** base_model_name_or_path: the directory or hub id the adapter applies to; null when there is none. */
  baseModel?: string | null;
  /** Extra string metadata in the safetensors header (alongside format: pt). */
  metadata?: Record<string, string>;
}

/** Writes LoRA adapters (a model's, or a checkpoint's without their base) as a PEFT adapter directory. */
export async function savePeftAdapter(
  lora: LoraAdapters,
  dir: string,
  opts: PeftSaveOptions = {},
): Promise<{ files: string[] }> {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, ADAPTER_CONFIG),
    JSON.stringify(peftAdapterConfig(lora, opts.baseModel ?? null), null, 2) + '\n',
  );
  await writeFile(
    path.join(dir, ADAPTER_WEIGHTS),
    writeSafetensors(await peftStateDict(lora), { metadata: { format: 'pt', ...opts.metadata } }),
  );
  return { files: [ADAPTER_CONFIG, ADAPTER_WEIGHTS] };
}
