import { type OverlongCount, type OverlongPolicy, PromptEncoder } from '../data/prompt.js';
import { generateChunked } from '../sampling/chunked.js';
import { Rng } from '../util/random.js';
import { scoreAll, type Scorer } from './data-source.js';
import { passAtK } from './pass-at-k.js';
import type { Policy } from './policy-source.js';
import type { EvalResult, Example, TrainConfig } from './types.js';

export interface EvalSettings {
  n: number;
  k: number;
  temperature: number; // 0 = greedy
  /** Nucleus sampling mass (1 = off); the authors evaluate at T 0.7, top-p 0.95. */
  top_p?: number;
  max_examples: number;
  maxNewTokens: number;
  seed: number;
  /** Prompts longer than the context leaves for maxNewTokens: refuse (default), leave out, or keep their end. */
  overlong?: OverlongPolicy;
}

export interface EvalDetail extends Omit<EvalResult, 'step'> {
  perExample: { id: string; correct: number }[];
  /** Prompts over the context limit and what was done with them (skipped ones are not in `examples`). */
  overlong: OverlongCount & { policy: OverlongPolicy };
}

/** The eval's completion limit: eval.max_new_tokens, else the rollouts' sampling.max_new_tokens. */
export function evalMaxNewTokens(config: Pick<TrainConfig, 'eval' | 'sampling'>): number {
  return config.eval.max_new_tokens ?? config.sampling.max_new_tokens;
}

/** pass@k (unbiased estimator) and avg@k (mean correctness of the n samples) over a test set. */
export async function evaluatePolicy(
  policy: Policy,
  examples: Example[],
  score: Scorer,
  s: EvalSettings,
): Promise<EvalDetail> {
  const rng = new Rng(s.seed);
  const rows = examples.slice(0, s.max_examples);
  // Greedy decoding gives the same answer n times: one sample is enough.
  const n = s.temperature === 0 ? 1 : s.n;
  const k = Math.min(s.k, n);
  const policyName = s.overlong ?? 'error';
  const encoder = new PromptEncoder(
    policy.tokenizer,
    policy.model.dims.maxPositions,
    s.maxNewTokens,
    policyName,
    (e) => policy.prompt.render(e),
  );
  const { examples: kept, overlong } = encoder.select(rows);
  // Longest first: chunks hold prompts of similar length (less padding), and the biggest chunk runs first.
  const order = kept.map((e) => ({ e, ids: encoder.encode(e) })).sort((a, b) => b.ids.length - a.ids.length);
  const gen = await generateChunked(
    policy.model,
    order.map((o) => o.ids),
    {
      rng,
      maxNewTokens: s.maxNewTokens,
      numReturnSequences: n,
      temperature: s.temperature,
      topP: s.top_p ?? 1,
      eosTokenId: policy.prompt.stopIds,
      padTokenId: policy.tokenizer.padId,
    },
  );
  const scored = await scoreAll(
    score,
    gen.completionIds.map((ids, r) => ({
      completion: policy.tokenizer.decode(ids),
      example: order[Math.floor(r / n)].e,
    })),
  );
  const correct = new Map<Example, number>();
  order.forEach(({ e }, j) => {
    let c = 0;
    for (let r = j * n; r < (j + 1) * n; r++) if (scored[r].correct) c++;
    correct.set(e, c);
  });
  const perExample = kept.map((e) => ({ id: e.id, correct: correct.get(e)! }));
  const m = perExample.length || 1;
  return {
    n,
    k,
    examples: perExample.length,
    pass_at_k: perExample.reduce((a, e) => a + passAtK(n, e.correct, k), 0) / m,
    avg_at_k: perExample.reduce((a, e) => a + e.correct / n, 0) / m,
    perExample,
    overlong: { ...overlong, policy: policyName },
  };
}
