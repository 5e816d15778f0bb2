import { PromptEncoder } from '../data/prompt.js';
import { generateChunked } from '../sampling/chunked.js';
import type { Rng } from '../util/random.js';
import { scoreAll, type Scorer } from './data-source.js';
import type { Policy } from './policy-source.js';
import type { Example, SamplingParams } from './types.js';

export interface Rollout {
  /** Row r is sample r % G of prompt floor(r / G). */
  promptIds: number[][];
  completionIds: number[][]; // EOS included when the completion ended on it
  texts: string[];
  rewards: number[];
  correct: boolean[];
  /** With `rewards`: per component name, each completion's score (row order). */
  components?: Record<string, number[]>;
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
  const scored = await scoreAll(
    score,
    texts.map((completion, r) => ({ completion, example: prompts[gen.promptIndex[r]] })),
  );
  const components: Record<string, number[]> = {};
  for (const s of scored)
    for (const [name, v] of Object.entries(s.components ?? {})) (components[name] ??= []).push(v);
  return {
    promptIds: gen.promptIds,
    completionIds: gen.completionIds,
    texts,
    rewards: scored.map((s) => s.reward),
    correct: scored.map((s) => s.correct),
    ...(Object.keys(components).length ? { components } : {}),
  };
}
