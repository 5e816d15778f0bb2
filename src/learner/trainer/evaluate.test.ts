import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { getTask } from '../tasks/index.js';
import { DEFAULT_CONFIG } from './config.js';
import type { Scorer } from './data-source.js';
import { evalMaxNewTokens, evaluatePolicy } from './evaluate.js';
import { loadPolicy, withPromptTemplate } from './policy-source.js';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('evaluatePolicy: the authors’ protocol options', () => {
  it('top_p is applied: a vanishing nucleus keeps only the top token, so T 1 samples are the greedy text', async () => {
    const examples = getTask('add').generate({ split: 'test', n: 6, seed: 3, difficulty: 1 });
    const policy = withPromptTemplate(await loadPolicy({ builtin: 'tiny-86k' }, 3), 'none');
    // A scorer that records what was generated for each problem.
    const seen = new Map<string, string[]>();
    const record: Scorer = (completion, e) => {
      seen.set(e.id, [...(seen.get(e.id) ?? []), completion]);
      return { reward: 0, correct: false };
    };
    const run = async (o: { temperature: number; top_p?: number; seed?: number }) => {
      seen.clear();
      await evaluatePolicy(policy, examples, record, {
        n: 4,
        k: 2,
        max_examples: 6,
        maxNewTokens: 6,
        seed: 11,
        ...o,
      });
      return new Map(seen);
    };
    try {
      const greedy = await run({ temperature: 0 });
      const nucleus = await run({ temperature: 1, top_p: 1e-6 });
      for (const e of examples) expect(nucleus.get(e.id)).toEqual(Array(4).fill(greedy.get(e.id)![0]));
      // Without the nucleus an untrained model's T 1 samples leave the greedy path: the option is what did it.
      const open = await run({ temperature: 1, top_p: 1 });
      expect(examples.some((e) => open.get(e.id)!.some((c) => c !== greedy.get(e.id)![0]))).toBe(true);
    } finally {
      policy.model.dispose();
    }
  }, 120_000);

  it('eval.max_new_tokens, else sampling.max_new_tokens', () => {
    const c = { eval: DEFAULT_CONFIG.eval, sampling: { ...DEFAULT_CONFIG.sampling, max_new_tokens: 16 } };
    expect(evalMaxNewTokens(c)).toBe(16);
    expect(evalMaxNewTokens({ ...c, eval: { ...c.eval, max_new_tokens: 3584 } })).toBe(3584);
  });
});
