import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { CausalLM } from '../model/causal-lm.js';
import { BUILTIN_MODELS } from '../model/config.js';
import { generationBytes } from '../model/memory-plan.js';
import { Rng } from '../util/random.js';
import { generateChunked } from './chunked.js';
import { generate } from './generate.js';

const PROMPTS = [
  [1, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
  [1, 9],
  [1, 3, 4, 11, 12, 13, 40, 41],
  [1, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50],
  [1, 22, 23],
];

describe('generation in memory-planned chunks', () => {
  let model: CausalLM;
  beforeAll(async () => {
    await initBackend('cpu');
    model = CausalLM.create(
      { ...BUILTIN_MODELS['tiny-1m'], num_hidden_layers: 2, initializer_range: 0.3 },
      1,
    );
  });

  it('prefilling a prompt in slices gives the same greedy tokens as prefilling it whole', async () => {
    const opts = { rng: new Rng(0), maxNewTokens: 6, temperature: 0, numReturnSequences: 2 };
    const whole = await generate(model, PROMPTS, opts);
    for (const prefillTokens of [1, 3, 7]) {
      const sliced = await generate(model, PROMPTS, { ...opts, rng: new Rng(0), prefillTokens });
      expect(sliced.completionIds).toEqual(whole.completionIds);
    }
  });

  it('chunks under a small budget and returns the rows of one call, prompt-major', async () => {
    const opts = { rng: new Rng(0), maxNewTokens: 6, temperature: 0, numReturnSequences: 2 };
    const whole = await generate(model, PROMPTS, opts);
    // Room for about two short prompts at a time: several chunks, some prefilled in slices.
    const bytes = generationBytes(model.dims, 2, 8, 2, 6, 8).peak;
    const chunked = await generateChunked(model, PROMPTS, {
      ...opts,
      rng: new Rng(0),
      budget: { bytes, maxTensorBytes: 2 ** 30, source: 'test' },
    });
    expect(chunked.promptIndex).toEqual(whole.promptIndex);
    expect(chunked.promptIds).toEqual(whole.promptIds);
    expect(chunked.completionIds).toEqual(whole.completionIds);
    expect(chunked.finishReasons).toEqual(whole.finishReasons);
  });
});
