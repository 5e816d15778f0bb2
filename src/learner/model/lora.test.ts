import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { CausalLM } from './causal-lm.js';
import type { ModelConfig } from './config.js';
import { countLoraParameters, LoraAdapters, type LoraConfig } from './lora.js';
import { savePeftAdapter } from './peft.js';
import { loadPretrained, savePretrained } from './pretrained.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

/** Qwen2-shaped: q/k/v biases, grouped-query attention, untied head. */
const CFG: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 50,
  max_position_embeddings: 128,
  tie_word_embeddings: false,
  initializer_range: 0.2,
};

const ALL: LoraConfig = {
  rank: 4,
  alpha: 8,
  dropout: 0,
  target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
};

const IDS = [
  [0, 0, 5, 6, 7, 8],
  [1, 2, 3, 4, 5, 6],
];
const MASK = [
  [0, 0, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1],
];

function logitsOf(model: CausalLM, opts: { adapters?: boolean; dropoutSeed?: number } = {}): number[][][] {
  return tf.tidy(() =>
    model
      .forward(tf.tensor2d(IDS, undefined, 'int32'), {
        attentionMask: tf.tensor2d(MASK, undefined, 'int32'),
        ...opts,
      })
      .logits.arraySync(),
  );
}

function maxDiff(a: number[][][], b: number[][][]): number {
  let m = 0;
  a.forEach((row, r) =>
    row.forEach((v, t) => MASK[r][t] && v.forEach((x, i) => (m = Math.max(m, Math.abs(x - b[r][t][i]))))),
  );
  return m;
}

/** A LoRA model whose B matrices are no longer zero (as after training), so the adapters change the output. */
function trainedLoraModel(lora: LoraConfig = ALL): CausalLM {
  const model = CausalLM.create(CFG, 3);
  model.attachLora(LoraAdapters.create(CFG, lora, 11));
  let seed = 100;
  for (const [name, v] of model.lora!.weights()) {
    if (name.endsWith('lora_B.weight'))
      tf.tidy(() => v.assign(tf.randomNormal(v.shape, 0, 0.2, 'float32', seed++)));
  }
  return model;
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('LoRA adapters', () => {
  it('count r·(in + out) per targeted linear, as the pure counter says', () => {
    const model = CausalLM.create(CFG, 1);
    const lora = LoraAdapters.create(CFG, ALL, 2);
    // Per layer: q 32→32, k 32→16, v 32→16, o 32→32, gate 32→48, up 32→48, down 48→32.
    const perLayer = 4 * (64 + 48 + 48 + 64 + 80 + 80 + 80);
    expect(countLoraParameters(CFG, ALL)).toBe(2 * perLayer);
    expect(lora.numParameters()).toBe(countLoraParameters(CFG, ALL));
    expect(countLoraParameters(CFG, { rank: 8, target_modules: ['q_proj', 'v_proj'] })).toBe(
      2 * 8 * (64 + 48),
    );
    expect(lora.numParameters()).toBeLessThan(model.numParameters() / 5);
    lora.dispose();
    model.dispose();
  });

  it('start at the base model exactly (B = 0) with PEFT’s init for A', () => {
    const model = CausalLM.create(CFG, 3);
    const base = logitsOf(model);
    model.attachLora(LoraAdapters.create(CFG, ALL, 11));
    expect(maxDiff(logitsOf(model), base)).toBe(0);
    const a = model.lora!.weights().get('model.layers.0.mlp.down_proj.lora_A.weight')!;
    expect(a.shape).toEqual([48, 4]);
    const bound = 1 / Math.sqrt(48);
    const values = Array.from(a.dataSync());
    expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(bound * 0.8);
    model.dispose();
  });

  it('y = Wx + (alpha/r)·B·A·x: a trained adapter moves the logits, switching it off gives the base back', () => {
    const model = trainedLoraModel();
    const plain = CausalLM.create(CFG, 3);
    expect(maxDiff(logitsOf(model), logitsOf(plain))).toBeGreaterThan(1e-2);
    expect(maxDiff(logitsOf(model, { adapters: false }), logitsOf(plain))).toBe(0);
    plain.dispose();
    model.dispose();
  });

  it('PEFT export: merged by hand from the safetensors, the adapter gives the LoRA model’s logits', async () => {
    const lora: LoraConfig = {
      rank: 4,
      alpha: 8,
      dropout: 0.1,
      target_modules: ['q_proj', 'v_proj', 'down_proj'],
    };
    const model = trainedLoraModel(lora);
    const dir = mkdtempSync(join(tmpdir(), 'popo-lora-'));
    await savePeftAdapter(model.lora!, join(dir, 'adapter'), { baseModel: join(dir, 'base') });
    await savePretrained(model, join(dir, 'base')); // the base weights only: adapters are not part of the model

    const config = JSON.parse(readFileSync(join(dir, 'adapter', 'adapter_config.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(config).toMatchObject({
      peft_type: 'LORA',
      task_type: 'CAUSAL_LM',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0.1,
      target_modules: ['q_proj', 'v_proj', 'down_proj'],
      bias: 'none',
      fan_in_fan_out: false,
      base_model_name_or_path: join(dir, 'base'),
    });
    const adapter = readSafetensors(readFileSync(join(dir, 'adapter', 'adapter_model.safetensors')));
    expect(adapter.size).toBe(2 * 3 * 2);
    expect(adapter.get('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight')!.shape).toEqual([
      4, 32,
    ]);
    expect(adapter.get('base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight')!.shape).toEqual([
      16, 4,
    ]);
    expect(adapter.get('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight')!.shape).toEqual([
      4, 48,
    ]);
    expect(adapter.has('base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight')).toBe(false);

    // W' = W + (alpha/r)·B·A in torch's layout, plain loops over the files' numbers.
    const weights = readSafetensors(readFileSync(join(dir, 'base', 'model.safetensors')));
    const scale = (config.lora_alpha as number) / (config.r as number);
    for (const [key, a] of adapter) {
      if (!key.endsWith('.lora_A.weight')) continue;
      const module = key.slice('base_model.model.'.length, -'.lora_A.weight'.length);
      const b = adapter.get(`base_model.model.${module}.lora_B.weight`)!;
      const w = weights.get(`${module}.weight`)!;
      const [out, inDim] = w.shape;
      const r = a.shape[0];
      expect(b.shape).toEqual([out, r]);
      for (let o = 0; o < out; o++)
        for (let i = 0; i < inDim; i++) {
          let s = 0;
          for (let k = 0; k < r; k++) s += b.data[o * r + k] * a.data[k * inDim + i];
          w.data[o * inDim + i] += scale * s;
        }
    }
    writeFileSync(join(dir, 'base', 'model.safetensors'), writeSafetensors(weights));
    const merged = await loadPretrained(join(dir, 'base'));
    const diff = maxDiff(logitsOf(merged), logitsOf(model));
    expect(diff).toBeLessThan(1e-4);
    // Dropout is a training-time thing: without a seed the forward is deterministic and dropout-free.
    expect(maxDiff(logitsOf(model, { dropoutSeed: 5 }), logitsOf(model))).toBeGreaterThan(1e-3);
    expect(maxDiff(logitsOf(model, { dropoutSeed: 5 }), logitsOf(model, { dropoutSeed: 5 }))).toBe(0);
    merged.dispose();
    model.dispose();
  });

  it('mergeLora folds the adapters into the base: same logits, then a plain model', async () => {
    const model = trainedLoraModel();
    const before = logitsOf(model);
    const copy = model.clone();
    copy.mergeLora();
    expect(copy.lora).toBeUndefined();
    expect(maxDiff(logitsOf(copy), before)).toBeLessThan(1e-4);
    const dir = mkdtempSync(join(tmpdir(), 'popo-lora-merged-'));
    await savePretrained(copy, dir);
    const loaded = await loadPretrained(dir);
    expect(maxDiff(logitsOf(loaded), before)).toBeLessThan(1e-4);
    for (const m of [loaded, copy, model]) m.dispose();
  });

  it('ξ over a shared base: the same base tensors, its own adapters, and disposing it leaves θ intact', () => {
    const model = trainedLoraModel();
    const xi = model.withSharedBase();
    for (const [name, v] of model.weights()) expect(xi.weights().get(name), name).toBe(v);
    const [name, a] = [...model.lora!.weights()][0];
    expect(xi.lora!.weights().get(name)).not.toBe(a);
    expect(Array.from(xi.lora!.weights().get(name)!.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(maxDiff(logitsOf(xi), logitsOf(model))).toBe(0);
    expect(() => xi.mergeLora()).toThrow(/shares its base/);
    xi.dispose();
    expect(logitsOf(model)[0][5][0]).toBeTypeOf('number');
    model.dispose();
  });

  it('gradients reach only the adapters, and match finite differences through the frozen base', () => {
    const model = trainedLoraModel();
    // No padding here: a fully masked query row's -1e9 scores swamp float32 finite differences.
    const ids = tf.tensor2d([IDS[1]], undefined, 'int32');
    const loss = () =>
      tf.tidy(() => {
        const { logits } = model.forward(ids);
        return tf.mean(tf.square(logits)) as tf.Scalar;
      });
    const adapters = [...model.lora!.weights().values()];
    const { grads } = tf.variableGrads(loss, adapters);
    expect(Object.keys(grads).sort()).toEqual(adapters.map((v) => v.name).sort());
    // One entry of layer 0's A: its gradient flows through every later frozen matMul and the frozen head.
    const a = model.lora!.weights().get('model.layers.0.self_attn.q_proj.lora_A.weight')!;
    const g = grads[a.name].dataSync()[7];
    const at = (delta: number) => {
      const data = a.dataSync().slice();
      data[7] += delta;
      tf.tidy(() => a.assign(tf.tensor(data, a.shape)));
      const l = loss();
      const v = l.dataSync()[0];
      l.dispose();
      tf.tidy(() =>
        a.assign(tf.tensor(Float32Array.from(data.map((x, i) => (i === 7 ? x - delta : x))), a.shape)),
      );
      return v;
    };
    const eps = 1e-2;
    const numeric = (at(eps) - at(-eps)) / (2 * eps);
    expect(Math.abs(g)).toBeGreaterThan(1e-5);
    expect(Math.abs(numeric - g)).toBeLessThan(0.02 * Math.abs(g) + 1e-5);
    tf.dispose([ids, ...Object.values(grads)]);
    model.dispose();
  });
});
