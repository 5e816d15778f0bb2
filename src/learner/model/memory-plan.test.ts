import { describe, expect, it } from 'vitest';
import { BUILTIN_MODELS, resolveConfig } from './config.js';
import {
  attentionScoresBytes,
  forwardBytes,
  generationBytes,
  kvCacheBytes,
  logitsBytes,
  type MemoryBudget,
  planGeneration,
  WASM_HEAP_BYTES,
} from './memory-plan.js';

const tiny1m = resolveConfig(BUILTIN_MODELS['tiny-1m']);
const budget = (mib: number): MemoryBudget => ({
  bytes: mib * 2 ** 20,
  maxTensorBytes: 2 ** 30,
  source: 'test',
});

describe('memory plan arithmetic', () => {
  it('counts KV cache, attention scores and logits from the model shape', () => {
    // tiny-1m: 6 layers, 2 kv heads of 32, 4 query heads, vocab 64.
    expect(kvCacheBytes(tiny1m, 3, 100)).toBe(2 * 6 * 3 * 2 * 32 * 100 * 4);
    expect(attentionScoresBytes(tiny1m, 3, 10, 100)).toBe(3 * 4 * 10 * 100 * 4);
    expect(logitsBytes(tiny1m, 3, 10)).toBe(3 * 10 * 64 * 4);
  });

  it('the crash of issue 9: 32 math500 prompts of 732 chars in one tiny-1m prefill exceed the wasm heap', () => {
    const f = forwardBytes(tiny1m, { rows: 32, queries: 732, keys: 732, lastOnly: true });
    expect(f.peak).toBeGreaterThan(WASM_HEAP_BYTES * 0.25);
    // Planned, the same prompts fit a 512 MiB budget in chunks.
    const plan = planGeneration(tiny1m, 732, 1, 32, budget(512));
    expect(plan.promptsPerChunk).toBeGreaterThan(0);
    expect(plan.peakBytes).toBeLessThanOrEqual(512 * 2 ** 20);
    expect(
      generationBytes(tiny1m, plan.promptsPerChunk + 1, 732, 1, 32, plan.prefillTokens).peak,
    ).toBeGreaterThan(512 * 2 ** 20);
  });

  it('prefills in slices when a single prompt does not fit whole, and refuses what cannot fit at all', () => {
    const plan = planGeneration(tiny1m, 4000, 4, 64, budget(256));
    expect(plan.promptsPerChunk).toBeGreaterThanOrEqual(1);
    expect(plan.prefillTokens).toBeLessThan(4000);
    expect(() => planGeneration(tiny1m, 4000, 64, 64, budget(1))).toThrow(/needs about .* MiB/);
  });
});
