import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { Rng } from '../util/random.js';
import { CausalLM } from './causal-lm.js';
import { type ModelConfig, resolveConfig } from './config.js';
import { ModelError } from './errors.js';
import { roundToBf16 } from './float-formats.js';
import { loadPretrained, savePretrained } from './pretrained.js';
import { referenceLogits } from './reference-forward.js';
import {
  readSafetensors,
  type SafetensorsDtype,
  type TensorRecord,
  writeSafetensors,
} from './safetensors.js';

// Qwen2-shaped: GQA (4 query heads, 2 kv heads), q/k/v bias, untied head.
const QWEN2: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 40,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  tie_word_embeddings: false,
  torch_dtype: 'float32',
  eos_token_id: 3,
};

/** HF names and HF shapes ([out, in] for linear layers), written out independently of the model code. */
function qwen2Tensors(seed: number, dtype: SafetensorsDtype = 'F32'): Map<string, TensorRecord> {
  const rng = new Rng(seed);
  const out = new Map<string, TensorRecord>();
  const add = (name: string, shape: number[], kind: 'w' | 'norm' | 'bias' = 'w') => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++)
      data[i] = kind === 'norm' ? 1 + 0.1 * rng.normal() : (kind === 'bias' ? 0.05 : 0.2) * rng.normal();
    out.set(name, { dtype, shape, data });
  };
  add('model.embed_tokens.weight', [40, 16]);
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}`;
    add(`${p}.input_layernorm.weight`, [16], 'norm');
    add(`${p}.self_attn.q_proj.weight`, [16, 16]);
    add(`${p}.self_attn.q_proj.bias`, [16], 'bias');
    add(`${p}.self_attn.k_proj.weight`, [8, 16]);
    add(`${p}.self_attn.k_proj.bias`, [8], 'bias');
    add(`${p}.self_attn.v_proj.weight`, [8, 16]);
    add(`${p}.self_attn.v_proj.bias`, [8], 'bias');
    add(`${p}.self_attn.o_proj.weight`, [16, 16]);
    add(`${p}.post_attention_layernorm.weight`, [16], 'norm');
    add(`${p}.mlp.gate_proj.weight`, [24, 16]);
    add(`${p}.mlp.up_proj.weight`, [24, 16]);
    add(`${p}.mlp.down_proj.weight`, [16, 24]);
  }
  add('model.norm.weight', [16], 'norm');
  add('lm_head.weight', [40, 16]);
  return out;
}

const IDS = [
  [0, 0, 5, 17, 9, 33, 2],
  [7, 1, 39, 4, 4, 12, 30],
];
const MASK = [
  [0, 0, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1],
];

function modelLogits(model: CausalLM): number[][][] {
  return tf.tidy(() => {
    const { logits } = model.forward(tf.tensor2d(IDS, undefined, 'int32'), {
      attentionMask: tf.tensor2d(MASK, undefined, 'int32'),
    });
    return logits.arraySync();
  });
}

function maxDiffOnRealTokens(a: number[][][], b: number[][][]): number {
  let m = 0;
  for (let r = 0; r < a.length; r++) {
    for (let t = 0; t < a[r].length; t++) {
      if (!MASK[r][t]) continue;
      for (let v = 0; v < a[r][t].length; v++) m = Math.max(m, Math.abs(a[r][t][v] - b[r][t][v]));
    }
  }
  return m;
}

async function writeDir(
  dir: string,
  cfg: ModelConfig,
  files: Record<string, Uint8Array | string>,
): Promise<void> {
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(cfg));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(dir, name), content);
}

async function expectModelError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelError);
  expect((err as ModelError).code).toBe(code);
  expect((err as Error).message).toMatch(message);
}

describe('loading Hugging Face directories', () => {
  let root: string;
  let n = 0;
  const fresh = async () => {
    const d = path.join(root, `m${n++}`);
    await import('node:fs/promises').then((fs) => fs.mkdir(d));
    return d;
  };

  beforeAll(async () => {
    await initBackend('cpu');
    root = await mkdtemp(path.join(os.tmpdir(), 'popo-pretrained-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('loads a single-file fp32 Qwen2 model and reproduces the reference logits', async () => {
    const dir = await fresh();
    const tensors = qwen2Tensors(1);
    await writeDir(dir, QWEN2, {
      'model.safetensors': writeSafetensors(tensors, { metadata: { format: 'pt' } }),
    });
    const model = await loadPretrained(dir);
    const expected = referenceLogits(resolveConfig(QWEN2), tensors, IDS, MASK);
    expect(maxDiffOnRealTokens(modelLogits(model), expected)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('loads sharded bf16 weights (compared with the bf16-rounded reference)', async () => {
    const dir = await fresh();
    const tensors = qwen2Tensors(2, 'BF16');
    const names = [...tensors.keys()];
    const half = Math.floor(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    const files: Record<string, Uint8Array | string> = {};
    shards.forEach((list, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      files[file] = writeSafetensors(new Map(list.map((k) => [k, tensors.get(k)!])));
      for (const k of list) weightMap[k] = file;
    });
    files['model.safetensors.index.json'] = JSON.stringify({
      metadata: { total_size: 0 },
      weight_map: weightMap,
    });
    await writeDir(dir, { ...QWEN2, torch_dtype: 'bfloat16' }, files);
    const model = await loadPretrained(dir);
    const rounded = new Map([...tensors].map(([k, t]) => [k, { ...t, data: roundToBf16(t.data) }]));
    const expected = referenceLogits(resolveConfig(QWEN2), rounded, IDS, MASK);
    expect(maxDiffOnRealTokens(modelLogits(model), expected)).toBeLessThan(1e-4);
    // Unrounded weights give visibly different logits: the comparison above really depends on the rounding.
    const unrounded = referenceLogits(resolveConfig(QWEN2), tensors, IDS, MASK);
    expect(maxDiffOnRealTokens(modelLogits(model), unrounded)).toBeGreaterThan(1e-4);
    model.dispose();
  });

  it('loads a tied Llama model (no lm_head tensor) and ignores extra tensors', async () => {
    const dir = await fresh();
    const cfg: ModelConfig = {
      ...QWEN2,
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      tie_word_embeddings: true,
    };
    const tensors = qwen2Tensors(3);
    for (const k of [...tensors.keys()]) if (k.endsWith('.bias') || k === 'lm_head.weight') tensors.delete(k);
    tensors.set('model.layers.0.self_attn.rotary_emb.inv_freq', {
      dtype: 'F32',
      shape: [2],
      data: new Float32Array(2),
    });
    await writeDir(dir, cfg, { 'model.safetensors': writeSafetensors(tensors) });
    const model = await loadPretrained(dir);
    expect(model.weights().has('lm_head.weight')).toBe(false);
    const expected = referenceLogits(resolveConfig(cfg), tensors, IDS, MASK);
    expect(maxDiffOnRealTokens(modelLogits(model), expected)).toBeLessThan(1e-4);
    model.dispose();
  });

  it('save → load round trip (single file and sharded) keeps weights and logits', async () => {
    const model = CausalLM.create(QWEN2, 5);
    const before = modelLogits(model);
    const single = await fresh();
    expect((await savePretrained(model, single)).files).toEqual(['config.json', 'model.safetensors']);
    const sharded = await fresh();
    const { files } = await savePretrained(model, sharded, { maxShardBytes: 8 * 1024 });
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    expect(files).toContain('model.safetensors.index.json');
    // The file is in HF layout: q_proj is [out, in] = [16, 16], gate_proj [24, 16].
    const file = readSafetensors(await readFile(path.join(single, 'model.safetensors')));
    expect(file.get('model.layers.0.mlp.gate_proj.weight')!.shape).toEqual([24, 16]);
    expect(file.get('model.layers.0.mlp.down_proj.weight')!.shape).toEqual([16, 24]);
    for (const dir of [single, sharded]) {
      const loaded = await loadPretrained(dir);
      expect(maxDiffOnRealTokens(modelLogits(loaded), before)).toBe(0);
      loaded.dispose();
    }
    const bf16 = await fresh();
    await savePretrained(model, bf16, { dtype: 'BF16' });
    expect(JSON.parse(await readFile(path.join(bf16, 'config.json'), 'utf8')).torch_dtype).toBe('bfloat16');
    const loaded = await loadPretrained(bf16);
    const w = (await loaded.stateDict()).get('model.layers.1.mlp.up_proj.weight')!;
    const orig = (await model.stateDict()).get('model.layers.1.mlp.up_proj.weight')!;
    expect(Array.from(w.data)).toEqual(Array.from(roundToBf16(orig.data)));
    loaded.dispose();
    model.dispose();
  });

  it('reports every error case with its file, tensor and reason', async () => {
    await expectModelError(
      loadPretrained(path.join(root, 'nope')),
      'missing_file',
      /model directory not found/,
    );

    const noConfig = await fresh();
    await expectModelError(loadPretrained(noConfig), 'missing_file', /config.json: file not found/);

    const noWeights = await fresh();
    await writeDir(noWeights, QWEN2, {});
    await expectModelError(
      loadPretrained(noWeights),
      'missing_file',
      /neither model.safetensors nor model.safetensors.index.json/,
    );

    const arch = await fresh();
    await writeDir(arch, { ...QWEN2, architectures: ['GPT2LMHeadModel'] }, {});
    await expectModelError(
      loadPretrained(arch),
      'unsupported_architecture',
      /"GPT2LMHeadModel" is not supported/,
    );

    const badCfg = await fresh();
    await writeDir(badCfg, { ...QWEN2, num_key_value_heads: 3 }, {});
    await expectModelError(
      loadPretrained(badCfg),
      'invalid_config',
      /num_key_value_heads: 3 must divide num_attention_heads \(4\)/,
    );

    const missing = await fresh();
    const t1 = qwen2Tensors(1);
    t1.delete('model.layers.1.mlp.up_proj.weight');
    await writeDir(missing, QWEN2, { 'model.safetensors': writeSafetensors(t1) });
    await expectModelError(
      loadPretrained(missing),
      'missing_tensor',
      /tensor "model.layers.1.mlp.up_proj.weight" is missing/,
    );

    const shape = await fresh();
    const t2 = qwen2Tensors(1);
    t2.set('model.layers.0.self_attn.k_proj.weight', {
      dtype: 'F32',
      shape: [16, 8],
      data: new Float32Array(128),
    });
    await writeDir(shape, QWEN2, { 'model.safetensors': writeSafetensors(t2) });
    await expectModelError(
      loadPretrained(shape),
      'shape_mismatch',
      /"model.layers.0.self_attn.k_proj.weight" has shape \[16, 8\] but the config expects \[8, 16\]/,
    );

    const corrupt = await fresh();
    const bytes = writeSafetensors(qwen2Tensors(1));
    await writeDir(corrupt, QWEN2, { 'model.safetensors': bytes.subarray(0, bytes.length - 100) });
    await expectModelError(
      loadPretrained(corrupt),
      'corrupt_safetensors',
      /model.safetensors: corrupt safetensors: tensor ".*" ends at byte/,
    );

    const lostShard = await fresh();
    await writeDir(lostShard, QWEN2, {
      'model.safetensors.index.json': JSON.stringify({
        weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors' },
      }),
    });
    await expectModelError(
      loadPretrained(lostShard),
      'missing_file',
      /model-00001-of-00002.safetensors: shard listed in/,
    );

    const notMapped = await fresh();
    await writeDir(notMapped, QWEN2, {
      'model-00001-of-00001.safetensors': writeSafetensors(
        new Map([['model.embed_tokens.weight', qwen2Tensors(1).get('model.embed_tokens.weight')!]]),
      ),
      'model.safetensors.index.json': JSON.stringify({
        weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00001.safetensors' },
      }),
    });
    await expectModelError(
      loadPretrained(notMapped),
      'missing_tensor',
      /tensor "model.layers.0.input_layernorm.weight" is not in weight_map/,
    );
    expect((await readdir(root)).length).toBeGreaterThan(5);
  });
});
