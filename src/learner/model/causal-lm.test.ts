import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { CausalLM } from './causal-lm.js';
import { BUILTIN_MODELS, countParameters, type ModelConfig } from './config.js';
import { KVCache } from './kv-cache.js';

const CFG: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 50,
  max_position_embeddings: 128,
  tie_word_embeddings: true,
  initializer_range: 0.2,
};

const IDS = [
  [0, 0, 0, 5, 6, 7, 8],
  [1, 2, 3, 4, 5, 6, 7],
  [0, 9, 44, 13, 2, 2, 30],
];
const MASK = [
  [0, 0, 0, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1],
  [0, 1, 1, 1, 1, 1, 1],
];

function logitsOf(model: CausalLM, ids = IDS, mask = MASK): number[][][] {
  return tf.tidy(() =>
    model
      .forward(tf.tensor2d(ids, undefined, 'int32'), { attentionMask: tf.tensor2d(mask, undefined, 'int32') })
      .logits.arraySync(),
  );
}

function maxDiff(a: number[][][], b: number[][][], mask = MASK): number {
  let m = 0;
  a.forEach((row, r) =>
    row.forEach((v, t) => mask[r][t] && v.forEach((x, i) => (m = Math.max(m, Math.abs(x - b[r][t][i]))))),
  );
  return m;
}

/** Mean log-likelihood of the next token on real positions: a stand-in for a training loss. */
function nllLoss(model: CausalLM): tf.Scalar {
  const ids = tf.tensor2d(IDS, undefined, 'int32');
  const { logits, hidden } = model.forward(ids, { attentionMask: tf.tensor2d(MASK, undefined, 'int32') });
  const T = IDS[0].length;
  const logp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [-1, T - 1, -1]));
  const targets = tf.oneHot(tf.slice(ids, [0, 1], [-1, T - 1]), CFG.vocab_size);
  const m = tf.slice(tf.tensor2d(MASK), [0, 1], [-1, T - 1]);
  const nll = tf.neg(tf.div(tf.sum(tf.mul(tf.sum(tf.mul(logp, targets), -1), m)), tf.sum(m)));
  // Also route a gradient through the hidden states, as L_sim does.
  return tf.add(nll, tf.mul(0.1, tf.mean(tf.square(hidden)))) as tf.Scalar;
}

function gradsOf(model: CausalLM): Map<string, Float32Array> {
  const vars = [...model.weights().values()];
  const { value, grads } = tf.variableGrads(() => nllLoss(model), vars);
  const out = new Map<string, Float32Array>();
  for (const [name, v] of model.weights()) out.set(name, grads[v.name].dataSync() as Float32Array);
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
  return out;
}

describe('CausalLM', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('is deterministic for a seed and exposes HF-named weights in a stable order', async () => {
    const a = CausalLM.create(CFG, 3);
    const b = CausalLM.create(CFG, 3);
    const c = CausalLM.create(CFG, 4);
    const names = [...a.weights().keys()];
    expect(names[0]).toBe('model.embed_tokens.weight');
    expect(names).toContain('model.layers.1.self_attn.q_proj.bias');
    expect(names).not.toContain('model.layers.1.self_attn.o_proj.bias'); // Qwen2: no o_proj bias
    expect(names).not.toContain('lm_head.weight'); // tied
    expect(names.at(-1)).toBe('model.norm.weight');
    expect([...b.weights().keys()]).toEqual(names);
    expect(a.numParameters()).toBe(countParameters(CFG));
    expect(logitsOf(a)).toEqual(logitsOf(b));
    expect(maxDiff(logitsOf(a), logitsOf(c))).toBeGreaterThan(1e-3);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('builtin configs have about the advertised size', () => {
    expect(countParameters(BUILTIN_MODELS['tiny-1m'])).toBeGreaterThan(0.8e6);
    expect(countParameters(BUILTIN_MODELS['tiny-1m'])).toBeLessThan(1.5e6);
    expect(countParameters(BUILTIN_MODELS['tiny-10m'])).toBeGreaterThan(8e6);
    expect(countParameters(BUILTIN_MODELS['tiny-10m'])).toBeLessThan(12e6);
  });

  it('left padding does not change the logits of the real tokens', () => {
    const model = CausalLM.create(CFG, 1);
    const padded = logitsOf(model);
    const alone = logitsOf(model, [[5, 6, 7, 8]], [[1, 1, 1, 1]]);
    for (let t = 0; t < 4; t++) {
      for (let v = 0; v < CFG.vocab_size; v++) expect(padded[0][t + 3][v]).toBeCloseTo(alone[0][t][v], 5);
    }
    model.dispose();
  });

  it('prefill + step-by-step decoding through the KV cache equals the full forward', () => {
    const model = CausalLM.create(CFG, 2);
    const full = logitsOf(model);
    const cache = new KVCache(model.dims.layers);
    const split = 4;
    const got: number[][][] = IDS.map(() => []);
    tf.tidy(() => {
      const pre = model.forward(
        tf.tensor2d(
          IDS.map((r) => r.slice(0, split)),
          undefined,
          'int32',
        ),
        {
          attentionMask: tf.tensor2d(
            MASK.map((r) => r.slice(0, split)),
            undefined,
            'int32',
          ),
          cache,
        },
      );
      pre.logits.arraySync().forEach((row, r) => got[r].push(...row));
    });
    for (let t = split; t < IDS[0].length; t++) {
      tf.tidy(() => {
        const step = model.forward(
          tf.tensor2d(
            IDS.map((r) => [r[t]]),
            undefined,
            'int32',
          ),
          {
            attentionMask: tf.tensor2d(
              MASK.map((r) => [r[t]]),
              undefined,
              'int32',
            ),
            cache,
          },
        );
        step.logits.arraySync().forEach((row, r) => got[r].push(...row));
      });
    }
    expect(cache.length).toBe(IDS[0].length);
    expect(maxDiff(got, full)).toBeLessThan(1e-4);
    const before = tf.memory().numTensors;
    cache.dispose();
    expect(tf.memory().numTensors).toBe(before - 2 * model.dims.layers - 2);
    model.dispose();
  });

  it('lastOnly returns the last position only', () => {
    const model = CausalLM.create(CFG, 2);
    const full = logitsOf(model);
    const last = tf.tidy(() =>
      model
        .forward(tf.tensor2d(IDS, undefined, 'int32'), {
          attentionMask: tf.tensor2d(MASK, undefined, 'int32'),
          lastOnly: true,
        })
        .logits.arraySync(),
    );
    expect(last[0].length).toBe(1);
    last.forEach((row, r) =>
      row[0].forEach((v, i) => expect(v).toBeCloseTo(full[r][IDS[0].length - 1][i], 5)),
    );
    model.dispose();
  });

  it('clone has new, independent variables with the same values', () => {
    const model = CausalLM.create(CFG, 6);
    const twin = model.clone();
    expect(logitsOf(twin)).toEqual(logitsOf(model));
    const w = twin.weights().get('model.layers.0.mlp.up_proj.weight')!;
    expect(w).not.toBe(model.weights().get('model.layers.0.mlp.up_proj.weight'));
    tf.tidy(() => w.assign(tf.zerosLike(w)));
    expect(maxDiff(logitsOf(twin), logitsOf(model))).toBeGreaterThan(1e-4);
    model.copyFrom(twin);
    expect(logitsOf(twin)).toEqual(logitsOf(model));
    const before = tf.memory().numTensors;
    twin.dispose();
    expect(tf.memory().numTensors).toBeLessThan(before);
    expect(() => twin.weights()).toThrow(/disposed/);
    model.dispose();
  });

  it('stateDict / loadStateDict restore the exact weights', async () => {
    const a = CausalLM.create(CFG, 7);
    const b = CausalLM.create(CFG, 8);
    b.loadStateDict(await a.stateDict());
    expect(logitsOf(b)).toEqual(logitsOf(a));
    const sd = await a.stateDict();
    sd.delete('model.norm.weight');
    expect(() => b.loadStateDict(sd, 'ckpt')).toThrow(/ckpt: tensor "model.norm.weight" is missing/);
    [a, b].forEach((m) => m.dispose());
  });

  it('rejects bad inputs with the field and the reason', () => {
    const model = CausalLM.create(CFG, 1);
    expect(() => model.forward(tf.tensor2d([[1, 2]], undefined, 'float32'))).toThrow(
      /inputIds must be int32/,
    );
    expect(() =>
      model.forward(tf.tensor2d([[1, 2]], undefined, 'int32'), {
        attentionMask: tf.tensor2d([[1, 1, 1]], undefined, 'int32'),
      }),
    ).toThrow(/attentionMask shape \[1, 3\] must equal inputIds shape \[1, 2\]/);
    expect(() => CausalLM.create({ ...CFG, hidden_size: 30 }, 1)).toThrow(
      /num_attention_heads: 4 must divide hidden_size \(30\)/,
    );
    expect(() => CausalLM.create({ ...CFG, vocab_size: 0 }, 1)).toThrow(
      /vocab_size: must be a positive integer/,
    );
    model.dispose();
  });

  it('same logits on cpu and wasm; forward+backward runs on wasm and matches cpu gradients', async () => {
    await initBackend('cpu');
    const model = CausalLM.create({ ...CFG, tie_word_embeddings: false }, 9);
    const cpuLogits = logitsOf(model);
    const cpuGrads = gradsOf(model);
    await initBackend('wasm');
    try {
      expect(maxDiff(logitsOf(model), cpuLogits)).toBeLessThan(1e-4);
      const wasmGrads = gradsOf(model);
      expect([...wasmGrads.keys()]).toEqual([...cpuGrads.keys()]);
      for (const [name, g] of wasmGrads) {
        const ref = cpuGrads.get(name)!;
        let scale = 0;
        let diff = 0;
        for (let i = 0; i < g.length; i++) {
          scale = Math.max(scale, Math.abs(ref[i]));
          diff = Math.max(diff, Math.abs(g[i] - ref[i]));
        }
        expect(scale, `${name} has a zero gradient`).toBeGreaterThan(0);
        expect(diff / scale, name).toBeLessThan(1e-3);
      }
    } finally {
      model.dispose();
      await initBackend('cpu');
    }
  });
});
