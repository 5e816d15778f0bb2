import * as tf from '@tensorflow/tfjs-core';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../backend.js';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { LoraAdapters } from '../model/lora.js';
import { savePeftAdapter } from '../model/peft.js';
import { savePretrained } from '../model/pretrained.js';
import {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  type TensorRecord,
} from '../model/safetensors.js';
import type { RngState } from '../util/random.js';
import type { AlgorithmState } from './algorithms/algorithm.js';
import { loadBaseModel, type BaseModelRef } from './checkpoint-base.js';
import { CheckpointError } from './checkpoint-error.js';
import type { CheckpointBlob, TrainConfig } from './types.js';

export { CheckpointError };

/** Everything a run needs to continue exactly where it stopped. */
export interface CheckpointContents {
  step: number;
  config: TrainConfig;
  modelConfig: ModelConfig;
  tokenizer: string; // 'char' or the directory a tokenizer.json was read from
  rng: RngState;
  /**
   * θ; under LoRA the frozen base θ's adapters sit on, stored only when the base cannot be named (a run started
   * from another run's checkpoint, or resumed from a checkpoint written before bases were named).
   */
  policy?: Map<string, TensorRecord>;
  /** Under LoRA, where the frozen base comes from, in place of `policy`. */
  base?: BaseModelRef;
  /** θ's LoRA adapters in the model layout (config.lora says how they apply); absent for full fine-tuning. */
  lora?: Map<string, TensorRecord>;
  /** What the algorithm object saved: optimizer moments, ξ and φ for POPO, the reference for GRPO... */
  state: AlgorithmState;
}

const FORMAT = 'popo-checkpoint/1';
/** Metadata keys of the run itself; every other key is a scalar of the algorithm's state. */
const RUN_METADATA = ['format', 'step', 'config', 'model_config', 'tokenizer', 'rng', 'base'];

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * One safetensors file: tensors named `<group>/<name>` (θ as `policy`, or under LoRA its adapters as `lora` and,
 * unless the base is named in the metadata, the base as `policy`; then the algorithm's groups such as siamese,
 * reference, predictor, optimizer) and the rest as strings in the header's metadata, so any safetensors reader
 * can open a checkpoint and the policy stays portable.
 */
export function encodeCheckpoint(c: CheckpointContents): CheckpointBlob {
  if (!c.policy && !(c.base && c.lora))
    throw new CheckpointError(
      'a checkpoint needs the policy weights, or LoRA adapters and the base they sit on',
    );
  const tensors = new Map<string, TensorRecord>();
  for (const [name, rec] of c.policy ?? []) tensors.set(`policy/${name}`, rec);
  for (const [name, rec] of c.lora ?? []) tensors.set(`lora/${name}`, rec);
  for (const [group, records] of Object.entries(c.state.tensors)) {
    if (group === 'policy' || group === 'lora' || group.includes('/'))
      throw new CheckpointError(`algorithm state group "${group}" is not a valid group name`);
    for (const [name, rec] of records) tensors.set(`${group}/${name}`, rec);
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    step: String(c.step),
    config: JSON.stringify(c.config),
    model_config: JSON.stringify(c.modelConfig),
    tokenizer: c.tokenizer,
    rng: JSON.stringify(c.rng),
    ...(c.base ? { base: JSON.stringify(c.base) } : {}),
  };
  for (const [key, value] of Object.entries(c.state.scalars)) {
    if (RUN_METADATA.includes(key)) throw new CheckpointError(`algorithm state scalar "${key}" is reserved`);
    metadata[key] = String(value);
  }
  const bytes = writeSafetensors(tensors, { metadata });
  return { step: c.step, bytes, sha256: sha256(bytes) };
}

/** Verifies the sha256 (when the blob carries one) and splits the tensors back into their groups. */
export function decodeCheckpoint(blob: CheckpointBlob): CheckpointContents {
  if (blob.sha256 && sha256(blob.bytes) !== blob.sha256) {
    throw new CheckpointError(
      `checkpoint at step ${blob.step} fails its sha256 check: the bytes are corrupt`,
    );
  }
  const all = readSafetensors(blob.bytes, `checkpoint step ${blob.step}`);
  const meta = readSafetensorsHeader(blob.bytes).metadata;
  if (meta.format !== FORMAT)
    throw new CheckpointError(`not a popo checkpoint (format "${meta.format ?? 'missing'}")`);
  const groups: Record<string, Map<string, TensorRecord>> = {};
  for (const [key, rec] of all) {
    const slash = key.indexOf('/');
    if (slash <= 0) throw new CheckpointError(`unexpected tensor "${key}" in checkpoint`);
    (groups[key.slice(0, slash)] ??= new Map()).set(key.slice(slash + 1), rec);
  }
  const { policy, lora, ...state } = groups;
  const json = <T>(field: string): T => {
    try {
      return JSON.parse(meta[field]) as T;
    } catch {
      throw new CheckpointError(`checkpoint metadata "${field}" is missing or not JSON`);
    }
  };
  const scalars: Record<string, number> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (RUN_METADATA.includes(key)) continue;
    const n = Number(value);
    if (!Number.isFinite(n)) throw new CheckpointError(`checkpoint metadata "${key}" is not a number`);
    scalars[key] = n;
  }
  const base = meta.base === undefined ? undefined : json<BaseModelRef>('base');
  if (!policy && !(base && lora))
    throw new CheckpointError(
      'checkpoint holds no policy weights (nor LoRA adapters and the name of their base)',
    );
  return {
    step: Number(meta.step),
    config: json<TrainConfig>('config'),
    modelConfig: json<ModelConfig>('model_config'),
    tokenizer: meta.tokenizer ?? 'char',
    rng: json<RngState>('rng'),
    ...(policy ? { policy } : {}),
    ...(base && !policy ? { base } : {}),
    ...(lora ? { lora } : {}),
    state: { tensors: state, scalars },
  };
}

/** Copies named tensors to JS records (fp32) for writing. */
export async function variableRecords(tensors: Map<string, tf.Tensor>): Promise<Map<string, TensorRecord>> {
  const out = new Map<string, TensorRecord>();
  for (const [name, t] of tensors)
    out.set(name, { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(await t.data()) });
  return out;
}

/** Overwrites each variable from its record; a missing name or another shape is an error, not a silent skip. */
export function assignRecords(
  vars: Map<string, tf.Variable>,
  records: Map<string, TensorRecord>,
  source: string,
): void {
  for (const [name, v] of vars) {
    const r = records.get(name);
    if (!r) throw new CheckpointError(`${source}: tensor "${name}" is missing`);
    if (r.shape.join() !== v.shape.join()) {
      throw new CheckpointError(`${source}: tensor "${name}" has shape [${r.shape}], expected [${v.shape}]`);
    }
    tf.tidy(() => v.assign(tf.tensor(r.data, r.shape)));
  }
}

/**
 * The model of a checkpoint's θ: the weights, and under LoRA the base (stored, or loaded from where the checkpoint
 * names it and checked against its hashes) with the checkpoint's adapters on it.
 */
export async function checkpointModel(c: CheckpointContents): Promise<CausalLM> {
  const source = `checkpoint step ${c.step}`;
  const model = c.policy
    ? CausalLM.fromStateDict(c.modelConfig, c.policy, source)
    : await loadBaseModel(c.base!, c.modelConfig, source);
  if (!c.lora) return model;
  try {
    model.attachLora(checkpointAdapters(c));
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** A LoRA checkpoint's adapters, without their base. */
function checkpointAdapters(c: CheckpointContents): LoraAdapters {
  const source = `checkpoint step ${c.step}`;
  if (!c.lora) throw new CheckpointError(`${source} holds no LoRA adapters: its run trained every weight`);
  if (!c.config.lora)
    throw new CheckpointError(`${source} holds LoRA adapters but its run has no lora section`);
  return LoraAdapters.fromStateDict(c.modelConfig, c.config.lora, c.lora, source);
}

/** Tokenizer marker for the character tokenizer, so `loadPolicy` can tell which one a directory needs. */
export const CHAR_TOKENIZER_CONFIG = { tokenizer_class: 'PopoCharTokenizer', popo_tokenizer: 'char' };

/** Whether a checkpoint was written by a LoRA run (its θ is a base plus adapters). */
export function isLoraCheckpoint(blob: CheckpointBlob): boolean {
  return [...readSafetensorsHeader(blob.bytes).entries.keys()].some((k) => k.startsWith('lora/'));
}

/**
 * Writes the policy θ of a checkpoint as a Hugging Face model directory (config.json + model.safetensors, and the
 * tokenizer marker for built-in models), so a trained policy can go to other tools or seed another run. A LoRA
 * run's θ is written merged, W' = W + (alpha/r)·B·A: a plain model that computes what base + adapters did.
 */
export async function exportPolicy(blob: CheckpointBlob, dir: string): Promise<string[]> {
  const c = decodeCheckpoint(blob);
  // The API process never trains and may not have picked a backend yet: the conversion is cheap on cpu.
  if (!tf.engine().backendName) await initBackend('cpu');
  const model = await checkpointModel(c);
  try {
    model.mergeLora();
    const { files } = await savePretrained(model, dir, { metadata: { popo_step: String(c.step) } });
    files.push(...writeTokenizerFiles(c.tokenizer, dir));
    return files;
  } finally {
    model.dispose();
  }
}

/**
 * Writes the adapters of a LoRA run's checkpoint as a PEFT adapter directory (adapter_config.json +
 * adapter_model.safetensors) for `PeftModel.from_pretrained(base, dir)`; the tokenizer files go alongside. The
 * base is not needed (nor loaded): the directory is the adapters alone.
 */
export async function exportAdapter(blob: CheckpointBlob, dir: string): Promise<string[]> {
  const c = decodeCheckpoint(blob);
  if (!tf.engine().backendName) await initBackend('cpu');
  const adapters = checkpointAdapters(c);
  try {
    const { files } = await savePeftAdapter(adapters, dir, {
      baseModel: c.config.model.path ?? null,
      metadata: { popo_step: String(c.step) },
    });
    files.push(...writeTokenizerFiles(c.tokenizer, dir));
    return files;
  } finally {
    adapters.dispose();
  }
}

/** The tokenizer beside an exported model: the char marker, or the files of the run's tokenizer directory. */
function writeTokenizerFiles(tokenizer: string, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  if (tokenizer === 'char') {
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(CHAR_TOKENIZER_CONFIG, null, 2) + '\n');
    return ['tokenizer_config.json'];
  }
  const files: string[] = [];
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (existsSync(join(tokenizer, f))) {
      copyFileSync(join(tokenizer, f), join(dir, f));
      files.push(f);
    }
  }
  return files;
}
