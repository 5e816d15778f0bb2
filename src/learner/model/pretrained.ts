import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CausalLM } from './causal-lm.js';
import { type ModelConfig, resolveConfig } from './config.js';
import { ModelError } from './errors.js';
import {
  decodeTensor,
  encodedSize,
  readSafetensorsHeader,
  type SafetensorsDtype,
  type SafetensorsHeader,
  type TensorRecord,
  writeSafetensors,
} from './safetensors.js';
import { fromHFLayout, paramSpecs, toHFLayout } from './weight-layout.js';

/**
 * Hugging Face directory format: config.json + model.safetensors, or model.safetensors.index.json
 * ({ weight_map: name → shard file }) + shards. Tensors are read into fp32 whatever their stored dtype.
 */

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new ModelError('missing_file', `${file}: file not found`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ModelError('invalid_config', `${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** Read and validate `config.json` of an HF model directory. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const cfg = (await readJson(path.join(dir, 'config.json'))) as ModelConfig;
  resolveConfig(cfg);
  return cfg;
}

interface OpenShard {
  file: string;
  buf: Uint8Array;
  header: SafetensorsHeader;
}

/** Where a directory's weights are: model.safetensors (an empty map), or each tensor's shard from the index. */
async function shardMap(dir: string): Promise<Map<string, string>> {
  const shardOf = new Map<string, string>();
  const index = path.join(dir, INDEX_FILE);
  if (await exists(path.join(dir, SINGLE_FILE))) {
    // Names resolved lazily by the loader: every tensor lives in the single file.
  } else if (await exists(index)) {
    const idx = (await readJson(index)) as { weight_map?: Record<string, string> };
    if (!idx || typeof idx.weight_map !== 'object' || idx.weight_map === null) {
      throw new ModelError('corrupt_safetensors', `${index}: "weight_map" is missing`);
    }
    for (const [name, file] of Object.entries(idx.weight_map)) shardOf.set(name, file);
  } else {
    throw new ModelError('missing_file', `${dir}: neither ${SINGLE_FILE} nor ${INDEX_FILE} found`);
  }
  return shardOf;
}

/**
 * The files loadPretrained reads, relative to the directory: config.json and model.safetensors, or config.json,
 * the index and its shards. What a fingerprint of the model must cover.
 */
export async function modelFiles(dir: string): Promise<string[]> {
  if (!(await exists(dir))) throw new ModelError('missing_file', `${dir}: model directory not found`);
  const shardOf = await shardMap(dir);
  if (!shardOf.size) return ['config.json', SINGLE_FILE];
  return ['config.json', INDEX_FILE, ...[...new Set(shardOf.values())].sort()];
}

/** Load a Llama / Qwen2 model from a local HF-format directory. */
export async function loadPretrained(dir: string): Promise<CausalLM> {
  if (!(await exists(dir))) throw new ModelError('missing_file', `${dir}: model directory not found`);
  const config = await readModelConfig(dir);
  const dims = resolveConfig(config);
  const shardOf = await shardMap(dir);
  const index = path.join(dir, INDEX_FILE);

  const shards = new Map<string, OpenShard>();
  const open = async (file: string): Promise<OpenShard> => {
    let s = shards.get(file);
    if (!s) {
      const full = path.join(dir, file);
      let buf: Uint8Array;
      try {
        buf = await readFile(full);
      } catch {
        throw new ModelError('missing_file', `${full}: shard listed in ${INDEX_FILE} not found`);
      }
      s = { file: full, buf, header: readSafetensorsHeader(buf, full) };
      shards.set(file, s);
    }
    return s;
  };

  const records = new Map<string, TensorRecord>();
  for (const spec of paramSpecs(dims)) {
    const file = shardOf.size ? shardOf.get(spec.name) : SINGLE_FILE;
    if (!file) throw new ModelError('missing_tensor', `${index}: tensor "${spec.name}" is not in weight_map`);
    const shard = await open(file);
    if (!shard.header.entries.has(spec.name)) {
      throw new ModelError('missing_tensor', `${shard.file}: tensor "${spec.name}" is missing`);
    }
    records.set(
      spec.name,
      fromHFLayout(spec, decodeTensor(shard.buf, shard.header, spec.name, shard.file), shard.file),
    );
  }
  return CausalLM.fromStateDict(config, records, dir);
}

export interface SaveOptions {
  /** Stored dtype of the weights (default F32); torch_dtype in config.json follows it. */
  dtype?: Extract<SafetensorsDtype, 'F32' | 'F16' | 'BF16'>;
  /** Split into shards above this many bytes (default 2 GiB). */
  maxShardBytes?: number;
  /** Extra string metadata stored in the safetensors header (alongside format: pt). */
  metadata?: Record<string, string>;
}

const TORCH_DTYPE = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' } as const;

/** Weights in Hugging Face layout ([out, in] linear kernels), e.g. to hand to other tools. */
export async function hfStateDict(
  model: CausalLM,
  dtype: SafetensorsDtype = 'F32',
): Promise<Map<string, TensorRecord>> {
  const own = await model.stateDict(dtype);
  const out = new Map<string, TensorRecord>();
  for (const spec of model.parameterSpecs()) out.set(spec.name, toHFLayout(spec, own.get(spec.name)!));
  return out;
}

/** Write config.json + model.safetensors (or index + shards) loadable by transformers and by loadPretrained. */
export async function savePretrained(
  model: CausalLM,
  dir: string,
  opts: SaveOptions = {},
): Promise<{ files: string[] }> {
  const dtype = opts.dtype ?? 'F32';
  if (!(dtype in TORCH_DTYPE))
    throw new ModelError('unsupported_dtype', `savePretrained: dtype must be F32, F16 or BF16, got ${dtype}`);
  const maxShard = opts.maxShardBytes ?? 2 * 1024 ** 3;
  if (!(maxShard > 0))
    throw new ModelError('invalid_config', `savePretrained: maxShardBytes must be positive, got ${maxShard}`);
  await mkdir(dir, { recursive: true });
  const tensors = await hfStateDict(model, dtype);
  const metadata = { format: 'pt', ...opts.metadata };

  const shards: [string, TensorRecord][][] = [[]];
  let current = 0;
  for (const entry of tensors) {
    const size = encodedSize(entry[1]);
    if (current > 0 && current + size > maxShard) {
      shards.push([]);
      current = 0;
    }
    shards[shards.length - 1].push(entry);
    current += size;
  }

  const config: ModelConfig = { ...model.config, torch_dtype: TORCH_DTYPE[dtype] };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  const files = ['config.json'];
  if (shards.length === 1) {
    await writeFile(path.join(dir, SINGLE_FILE), writeSafetensors(new Map(shards[0]), { metadata }));
    files.push(SINGLE_FILE);
    return { files };
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  const n = String(shards.length).padStart(5, '0');
  for (let i = 0; i < shards.length; i++) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${n}.safetensors`;
    for (const [name, rec] of shards[i]) {
      weightMap[name] = file;
      total += encodedSize(rec);
    }
    await writeFile(path.join(dir, file), writeSafetensors(new Map(shards[i]), { metadata }));
    files.push(file);
  }
  await writeFile(
    path.join(dir, INDEX_FILE),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n',
  );
  files.push(INDEX_FILE);
  return { files };
}
