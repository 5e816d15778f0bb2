import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { BUILTIN_MODELS, type ModelConfig } from '../model/config.js';
import { WASM_HEAP_BYTES } from '../model/memory-plan.js';
import { resolveConfig } from './config.js';
import { estimateRunMemory, memoryIssues, type MemoryEstimateInput } from './memory-estimate.js';
import { runMemoryIssues } from './memory-check.js';
import { measureRolloutStep, wasmHeapBytes } from './memory-measure.js';
import type { TrainConfig } from './types.js';

const QWEN25_05B: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  tie_word_embeddings: true,
};

function run(extra: Record<string, unknown> = {}): TrainConfig {
  return resolveConfig({
    algorithm: 'popo',
    model: { builtin: 'tiny-86k' },
    data: { train: [{ id: '1', problem: '1', answer: '1' }] },
    sampling: { group_size: 4, prompts_per_step: 1, max_new_tokens: 256 },
    ...extra,
  });
}

const GiB = 2 ** 30;

describe('run memory estimate', () => {
  it('counts the resident state of full fine-tuning: θ, ξ, predictor, AdamW moments', () => {
    const e = estimateRunMemory({ model: QWEN25_05B, run: run(), promptTokens: 64 });
    expect(e.parameters).toBe(494_032_768); // Qwen2.5-0.5B's published count
    const part = (name: RegExp) => e.resident.find((p) => name.test(p.name))!.bytes;
    expect(part(/θ/)).toBe(494_032_768 * 4);
    expect(part(/ξ/)).toBe(494_032_768 * 4);
    expect(part(/moments/)).toBe(2 * e.trainable * 4);
    expect(e.sequenceTokens).toBe(64 + 256);
  });

  it('trainable parameters are an input: an adapter needs no moments or gradients for the base', () => {
    const full = estimateRunMemory({ model: QWEN25_05B, run: run(), promptTokens: 64 });
    const adapter = estimateRunMemory({
      model: QWEN25_05B,
      run: run(),
      promptTokens: 64,
      trainableParams: 1_081_344,
      siameseParams: 1_081_344,
      largestTrainableTensor: 896 * 8,
    });
    expect(adapter.peak).toBeLessThan(full.peak - 8 * GiB);
  });

  it('micro-batches shrink the training peak', () => {
    const whole = estimateRunMemory({ model: BUILTIN_MODELS['tiny-1m'], run: run(), promptTokens: 40 });
    const one = estimateRunMemory({
      model: BUILTIN_MODELS['tiny-1m'],
      run: run({ optimizer: { micro_batch_size: 1 } }),
      promptTokens: 40,
    });
    expect(one.microBatch).toBe(1);
    expect(one.phases.training[0].bytes).toBeLessThan(whole.phases.training[0].bytes / 3);
  });
});

describe('refusals name the field to change', () => {
  const input = (extra: Record<string, unknown>, model = BUILTIN_MODELS['tiny-1m']): MemoryEstimateInput => ({
    model,
    run: run(extra),
    promptTokens: 40,
  });

  it('a model whose state alone exceeds the wasm heap: model', () => {
    const issues = memoryIssues(input({}, QWEN25_05B), WASM_HEAP_BYTES, 'the wasm heap');
    expect(issues).toHaveLength(1);
    expect(issues[0].field).toBe('model');
    expect(issues[0].reason).toMatch(/state alone is .* GiB .*AdamW moments/);
  });

  it('a batch whose backward does not fit: optimizer.micro_batch_size, with the largest that fits', () => {
    const big = input({ sampling: { group_size: 64, prompts_per_step: 64, max_new_tokens: 200 } });
    const issues = memoryIssues(big, WASM_HEAP_BYTES, 'the wasm heap');
    expect(issues.map((i) => i.field)).toEqual(['optimizer.micro_batch_size']);
    const k = Number(/at most (\d+)/.exec(issues[0].reason)![1]);
    const at = (m: number) =>
      estimateRunMemory(
        {
          ...big,
          run: { ...big.run, optimizer: { ...big.run.optimizer, micro_batch_size: m } },
        },
        WASM_HEAP_BYTES,
      ).peak;
    expect(at(k)).toBeLessThanOrEqual(WASM_HEAP_BYTES);
    expect(at(k + 1)).toBeGreaterThan(WASM_HEAP_BYTES);
  });

  it('sequences too long even one at a time: sampling.max_new_tokens', () => {
    const long = input({
      sampling: { group_size: 4, prompts_per_step: 1, max_new_tokens: 20000 },
      optimizer: { micro_batch_size: 1 },
    });
    const issues = memoryIssues(
      { ...long, model: { ...QWEN25_05B, num_hidden_layers: 1, vocab_size: 32000 } },
      WASM_HEAP_BYTES,
      'the wasm heap',
    );
    expect(issues[0].field).toBe('sampling.max_new_tokens');
    expect(issues[0].reason).toMatch(/at most about \d+ new tokens fit/);
  });

  it('what fits is not refused, and a GPU worker without a configured limit is not checked', () => {
    const r = { ...run(), data: { prompt_template: 'none' } };
    const model = { config: BUILTIN_MODELS['tiny-1m'], charTokens: true };
    expect(
      runMemoryIssues(
        r,
        model,
        { longestProblemChars: 40 },
        { limit: { bytes: WASM_HEAP_BYTES, source: 'x' } },
      ),
    ).toEqual([]);
    const qwen = { config: QWEN25_05B, charTokens: false };
    expect(runMemoryIssues(r, qwen, { longestProblemChars: 40 }, { limit: { source: 'a GPU' } })).toEqual([]);
    expect(
      runMemoryIssues(r, qwen, { longestProblemChars: 40 }, { limit: { bytes: 80 * GiB, source: 'x' } }),
    ).toEqual([]);
    expect(
      runMemoryIssues(
        r,
        qwen,
        { longestProblemChars: 40 },
        { limit: { bytes: WASM_HEAP_BYTES, source: 'x' } },
      )[0].field,
    ).toBe('model');
  });
});

describe('the estimate against the wasm heap measured', () => {
  // A shape unlike the one the constants were fitted on (bench/scale.ts): narrow, three layers, 16k vocabulary.
  const MODEL: ModelConfig = {
    architectures: ['Qwen2ForCausalLM'],
    hidden_size: 128,
    intermediate_size: 384,
    num_hidden_layers: 3,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 16384,
    max_position_embeddings: 1024,
    tie_word_embeddings: true,
  };
  let base = 0;
  beforeAll(async () => {
    await initBackend('wasm');
    base = wasmHeapBytes()!;
  });

  // The heap never shrinks: the smaller step is measured first.
  for (const [name, extra] of [
    ['POPO, micro-batches of 1', { optimizer: { micro_batch_size: 1 } }],
    ['POPO, the whole group at once', {}],
  ] as const) {
    it(`${name}: an upper bound within a factor 1.75`, { timeout: 300_000 }, async () => {
      const config = run({ ...extra, sampling: { group_size: 4, prompts_per_step: 1, max_new_tokens: 160 } });
      const m = await measureRolloutStep(MODEL, config, 32);
      const used = m.heap! - base;
      const est = estimateRunMemory({ model: MODEL, run: config, promptTokens: 32 }).peak;
      process.stderr.write(
        `${name}: estimate ${est} B, heap used ${used} B, ratio ${(est / used).toFixed(2)}\n`,
      );
      expect(est).toBeGreaterThanOrEqual(used);
      expect(est).toBeLessThanOrEqual(1.75 * used);
    });
  }
});

describe('under run.lora', () => {
  it('only the adapters train and ξ copies only them; the GRPO reference is the base itself', () => {
    const lora = run({ lora: { rank: 16, target_modules: ['q_proj', 'v_proj'] } });
    const e = estimateRunMemory({ model: QWEN25_05B, run: lora, promptTokens: 64 });
    // PEFT's count for Qwen2.5-0.5B, r = 16 on q_proj and v_proj: 24 · 16 · ((896 + 896) + (896 + 128)).
    const adapters = 1_081_344;
    expect(e.parameters).toBe(494_032_768 + adapters);
    const part = (name: RegExp) => e.resident.find((p) => name.test(p.name))?.bytes;
    expect(part(/ξ/)).toBe(adapters * 4);
    expect(part(/moments/)).toBe(2 * e.trainable * 4);
    expect(e.trainable - adapters).toBeLessThan(2_000_000); // the predictor head, not the model
    const full = estimateRunMemory({ model: QWEN25_05B, run: run(), promptTokens: 64 });
    expect(e.peak).toBeLessThan(full.peak - 8 * GiB);
    const grpo = (extra: object) =>
      estimateRunMemory({
        model: QWEN25_05B,
        run: run({ algorithm: 'grpo', grpo: { kl_beta: 0.04 }, ...extra }),
        promptTokens: 64,
      }).resident.some((p) => /reference/.test(p.name));
    expect(grpo({})).toBe(true);
    expect(grpo({ lora: {} })).toBe(false);
  });
});
