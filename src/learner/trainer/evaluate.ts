import { generate } from '../sampling/generate.js';
import { Rng } from '../util/random.js';
import type { Scorer } from './data-source.js';
import { passAtK } from './pass-at-k.js';
import { encodePrompt, type Policy } from './policy-source.js';
import type { EvalResult, Example } from './types.js';

export interface EvalSettings {
  n: number;
  k: number;
  temperature: number; // 0 = greedy
  max_examples: number;
  maxNewTokens: number;
  seed: number;
  /** Prompts per generate() call: bounds memory on long test sets. */
  batchSize?: number;
}

export interface EvalDetail extends Omit<EvalResult, 'step'> {
  perExample: { id: string; correct: number }[];
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
  const batch = s.batchSize ?? 32;
  const perExample: { id: string; correct: number }[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const gen = generate(
      policy.model,
      chunk.map((e) => encodePrompt(policy.tokenizer, policy.prompt.render(e))),
      {
        rng,
        maxNewTokens: s.maxNewTokens,
        numReturnSequences: n,
        temperature: s.temperature,
        eosTokenId: policy.prompt.stopIds,
        padTokenId: policy.tokenizer.padId,
      },
    );
    chunk.forEach((e, j) => {
      let c = 0;
      for (let r = j * n; r < (j + 1) * n; r++)
        if (score(policy.tokenizer.decode(gen.completionIds[r]), e).correct) c++;
      perExample.push({ id: e.id, correct: c });
    });
    await new Promise((r) => setImmediate(r)); // let progress output and signals through between chunks
  }
  const m = perExample.length || 1;
  return {
    n,
    k,
    examples: perExample.length,
    pass_at_k: perExample.reduce((a, e) => a + passAtK(n, e.correct, k), 0) / m,
    avg_at_k: perExample.reduce((a, e) => a + e.correct / n, 0) / m,
    perExample,
  };
}
