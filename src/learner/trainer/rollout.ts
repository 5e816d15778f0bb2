import { PromptEncoder } from '../data/prompt.js';
import { generateChunked } from '../sampling/chunked.js';
import type { Rng } from '../util/random.js';
import type { Scorer } from './data-source.js';
import type { Policy } from './policy-source.js';
import type { Example, SamplingParams } from './types.js';

export interface Rollout {
  /** Row r is sample r % G of prompt floor(r / G). */
  promptIds: number[][];
  completionIds: number[][]; // EOS included when the completion ended on it
  texts: string[];
  rewards: number[];
  correct: boolean[];
}

/**
 * Samples G completions per prompt with the current policy and scores them with the verifier: the one rollout
 * function the training loop calls. Generation runs in memory-planned chunks (sampling/chunked.ts); `encoder`
 * builds each prompt and applies the run's data.overlong policy (default: the problem text, overlong refused).
 */
export async function rollout(
  policy: Policy,
  prompts: Example[],
  sampling: SamplingParams,
  score: Scorer,
  rng: Rng,
  encoder = new PromptEncoder(
    policy.tokenizer,
    policy.model.dims.maxPositions,
    sampling.max_new_tokens,
    'error',
    (e) => policy.prompt.render(e),
  ),
): Promise<Rollout> {
  const { model, tokenizer } = policy;
  const gen = await generateChunked(
    model,
    prompts.map((p) => encoder.encode(p)),
    {
      rng,
      maxNewTokens: sampling.max_new_tokens,
      numReturnSequences: sampling.group_size,
      temperature: sampling.temperature,
      topK: sampling.top_k,
      topP: sampling.top_p,
      eosTokenId: policy.prompt.stopIds,
      padTokenId: tokenizer.padId,
    },
  );
  const texts = gen.completionIds.map((ids) => tokenizer.decode(ids));
  const scored = texts.map((t, r) => score(t, prompts[gen.promptIndex[r]]));
  return {
    promptIds: gen.promptIds,
    completionIds: gen.completionIds,
    texts,
    rewards: scored.map((s) => s.reward),
    correct: scored.map((s) => s.correct),
  };
}
