import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { Rng } from '../util/random.js';
import { generate, type GenerateOptions, generationTensors } from './generate.js';
import type { LogitsProcessor, ProcessorContext } from './processors.js';

const CFG: ModelConfig = {
  architectures: ['LlamaForCausalLM'],
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 24,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
  initializer_range: 0.3,
  eos_token_id: 2,
  pad_token_id: 0,
};
const PROMPTS = [[5, 6, 7], [9], [3, 4, 11, 12, 13]];

/** Forces a scripted token sequence (per row), to exercise the finishing rules deterministically. */
class ScriptProcessor implements LogitsProcessor {
  readonly name = 'script';
  constructor(private readonly scripts: number[][]) {}
  process(logits: Float32Array, ctx: ProcessorContext): void {
    const script = this.scripts[ctx.row];
    const token = script[Math.min(ctx.completion.length, script.length - 1)];
    for (let i = 0; i < logits.length; i++) if (i !== token) logits[i] = -Infinity;
  }
}

function run(model: CausalLM, seed: number, extra: Partial<GenerateOptions> = {}) {
  return generate(model, PROMPTS, { rng: new Rng(seed), maxNewTokens: 6, numReturnSequences: 2, ...extra });
}

describe('generate', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await initBackend('cpu');
    model = CausalLM.create(CFG, 42);
  });
  afterAll(() => model.dispose());

  it('KV-cache log-probs equal a full recompute of the padded batch', async () => {
    const res = await run(model, 1);
    expect(res.inputIds.length).toBe(6);
    expect(res.promptIndex).toEqual([0, 0, 1, 1, 2, 2]);
    const full = tf.tidy(() => {
      const t = generationTensors(res);
      return tf.logSoftmax(model.forward(t.inputIds, { attentionMask: t.attentionMask }).logits).arraySync();
    });
    let compared = 0;
    for (let r = 0; r < res.inputIds.length; r++) {
      expect(res.inputIds[r].slice(res.promptLength - res.promptIds[r].length, res.promptLength)).toEqual(
        res.promptIds[r],
      );
      res.completionIds[r].forEach((tok, i) => {
        const pos = res.promptLength + i;
        expect(res.inputIds[r][pos]).toBe(tok);
        expect(res.completionMask[r][pos]).toBe(1);
        expect(res.policyLogprobs[r][i]).toBeCloseTo(full[r][pos - 1][tok], 4);
        // temperature 1, no truncation: the sampling distribution is the policy
        expect(res.sampledLogprobs[r][i]).toBeCloseTo(res.policyLogprobs[r][i], 5);
        compared++;
      });
      const n = res.completionIds[r].length;
      expect(res.finishReasons[r]).toBe(res.completionIds[r][n - 1] === 2 ? 'eos' : 'length');
    }
    expect(compared).toBeGreaterThan(20);
  });

  it('repeats exactly for a seed and differs for another', async () => {
    const opts = { temperature: 0.9, topP: 0.95, topK: 20 };
    const a = await run(model, 7, opts);
    const b = await run(model, 7, opts);
    expect(b.completionIds).toEqual(a.completionIds);
    expect(b.sampledLogprobs).toEqual(a.sampledLogprobs);
    const c = await run(model, 8, opts);
    expect(c.completionIds).not.toEqual(a.completionIds);
  });

  it('restoring the Rng state mid-way repeats the rest of the run', async () => {
    const rng = new Rng(3);
    await generate(model, PROMPTS, { rng, maxNewTokens: 5, numReturnSequences: 2 });
    const saved = JSON.parse(JSON.stringify(rng.state()));
    const second = await generate(model, PROMPTS, { rng, maxNewTokens: 5, numReturnSequences: 2 });
    const third = await generate(model, PROMPTS, { rng, maxNewTokens: 5, numReturnSequences: 2 });
    const resumed = Rng.fromState(saved);
    expect(
      (await generate(model, PROMPTS, { rng: resumed, maxNewTokens: 5, numReturnSequences: 2 }))
        .completionIds,
    ).toEqual(second.completionIds);
    expect(
      (await generate(model, PROMPTS, { rng: resumed, maxNewTokens: 5, numReturnSequences: 2 }))
        .completionIds,
    ).toEqual(third.completionIds);
  });

  it('greedy decoding is deterministic and draws no randomness', async () => {
    const rng = new Rng(5);
    const before = rng.state();
    const a = await generate(model, PROMPTS, { rng, maxNewTokens: 4, temperature: 0, numReturnSequences: 2 });
    expect(rng.state()).toEqual(before);
    expect(a.completionIds[0]).toEqual(a.completionIds[1]);
    expect(a.sampledLogprobs.flat().every((v) => v === 0)).toBe(true);
  });

  it('samples in proportion to the processed distribution', async () => {
    const forced: LogitsProcessor = {
      name: 'two-tokens',
      process(logits) {
        logits.fill(-Infinity);
        logits[4] = Math.log(0.7);
        logits[9] = Math.log(0.3);
      },
    };
    const res = await generate(model, [[5]], {
      rng: new Rng(1),
      maxNewTokens: 1,
      numReturnSequences: 1000,
      processors: [forced],
    });
    const first = res.completionIds.map((c) => c[0]);
    const share4 = first.filter((t) => t === 4).length / first.length;
    expect(first.every((t) => t === 4 || t === 9)).toBe(true);
    expect(share4).toBeGreaterThan(0.65);
    expect(share4).toBeLessThan(0.75);
    expect(res.sampledLogprobs[first.indexOf(9)][0]).toBeCloseTo(Math.log(0.3), 5);
  });

  it('finishes rows on eos, stop strings and length, and pads the batch accordingly', async () => {
    const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(97 + i)).join(''); // 0→a, 1→b, …
    // rows: eos after two tokens; "hi" (7, 8) as a stop string; never stops
    const scripts = [
      [10, 11, 2, 12],
      [7, 8, 9],
      [13, 14, 15, 16, 17, 18],
    ];
    const res = await generate(model, [[5], [6], [7]], {
      rng: new Rng(1),
      maxNewTokens: 5,
      processors: [new ScriptProcessor(scripts)],
      stopStrings: ['hi'],
      decode,
    });
    expect(res.finishReasons).toEqual(['eos', 'stop', 'length']);
    expect(res.completionIds).toEqual([
      [10, 11, 2],
      [7, 8],
      [13, 14, 15, 16, 17],
    ]);
    expect(res.completionLength).toBe(5);
    expect(res.attentionMask[1]).toEqual([1, 1, 1, 0, 0, 0]);
    expect(res.completionMask[1]).toEqual([0, 1, 1, 0, 0, 0]);
    expect(res.inputIds[1]).toEqual([6, 7, 8, 0, 0, 0]);
  });

  it('validates its options', async () => {
    const rng = new Rng(1);
    await expect(generate(model, [], { rng, maxNewTokens: 2 })).rejects.toThrow(
      /prompts: need at least one prompt/,
    );
    await expect(generate(model, [[1, 99]], { rng, maxNewTokens: 2 })).rejects.toThrow(
      /prompts\[0\]: token id 99 is outside the vocabulary \[0, 24\)/,
    );
    await expect(generate(model, [[1]], { rng, maxNewTokens: 0 })).rejects.toThrow(
      /maxNewTokens: must be a positive integer/,
    );
    await expect(generate(model, [[1]], { rng, maxNewTokens: 2, stopStrings: ['x'] })).rejects.toThrow(
      /stopStrings: a decode/,
    );
    await expect(generate(model, [[1]], { rng, maxNewTokens: 100 })).rejects.toThrow(
      /exceeds max_position_embeddings \(64\)/,
    );
    await expect(generate(model, [[1]], { rng, maxNewTokens: 2, temperature: -1 })).rejects.toThrow(
      /temperature: must be ≥ 0/,
    );
  });

  /** Generate + backward `steps` times; returns [tensors, backend buffers] after each step. */
  async function churn(steps: number): Promise<[number, number][]> {
    const policy = CausalLM.create(CFG, 9);
    const vars = [...policy.weights().values()];
    const rng = new Rng(2);
    const counts: [number, number][] = [];
    for (let i = 0; i < steps; i++) {
      const res = await generate(policy, [[5, 6], [7]], { rng, maxNewTokens: 3, numReturnSequences: 2 });
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const t = generationTensors(res);
            const logp = tf.logSoftmax(policy.forward(t.inputIds, { attentionMask: t.attentionMask }).logits);
            const targets = tf.oneHot(tf.slice(t.inputIds, [0, 1], [-1, -1]), CFG.vocab_size);
            const m = tf.slice(t.completionMask, [0, 1], [-1, -1]);
            const tok = tf.sum(
              tf.mul(tf.slice(logp, [0, 0, 0], [-1, res.inputIds[0].length - 1, -1]), targets),
              -1,
            );
            return tf.neg(tf.div(tf.sum(tf.mul(tok, m)), tf.sum(m))) as tf.Scalar;
          }),
        vars,
      );
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      counts.push([tf.memory().numTensors, tf.engine().backend.numDataIds()]);
    }
    policy.dispose();
    return counts;
  }

  it('100 generate + backward steps leave the tensor and buffer counts flat', async () => {
    const counts = await churn(100);
    expect(counts[99]).toEqual(counts[9]);
  });

  it('on wasm too (shared Identity buffers are released)', async () => {
    await initBackend('wasm');
    try {
      const counts = await churn(25);
      expect(counts[24]).toEqual(counts[4]);
    } finally {
      await initBackend('cpu');
    }
  });
});
