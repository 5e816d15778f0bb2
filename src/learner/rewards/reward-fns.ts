import { extractAnswerWithSource } from './extract.js';
import type { RewardExample, RewardFn, RewardResult, VerifyOptions } from './types.js';
import { verifyMath } from './verify-math.js';

function golds(example: RewardExample): string[] {
  const all = [example?.answer, ...(Array.isArray(example?.answers) ? example.answers : [])];
  return all.filter((a): a is string => typeof a === 'string');
}

/** A math reward with fixed options: 1 when {@link verifyMath} judges the answer correct, else 0. */
export function makeMathReward(options: VerifyOptions = {}): RewardFn {
  return (completion, example) => {
    const result = verifyMath(completion, golds(example), options);
    return { reward: result.correct ? 1 : 0, ...result };
  };
}

/** {@link verifyMath} with default options as a 0/1 reward. */
export const mathReward: RewardFn = makeMathReward();

function squash(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * 1 when the final answer equals the gold text exactly (whitespace collapsed). The answer is the
 * `\boxed{}` / final-answer phrase when present, else the whole completion — built-in tasks whose
 * completions are just the answer use this.
 */
export const exactMatchReward: RewardFn = (completion, example): RewardResult => {
  try {
    if (typeof completion !== 'string')
      return { reward: 0, correct: false, reason: 'completion: expected a string' };
    const targets = golds(example).map(squash);
    if (targets.length === 0)
      return { reward: 0, correct: false, reason: 'example.answer: expected a string' };
    const found = extractAnswerWithSource(completion, { wholeFallback: true });
    if (!found) return { reward: 0, correct: false, reason: 'empty completion' };
    const extracted = squash(found.answer);
    const correct = targets.includes(extracted);
    return {
      reward: correct ? 1 : 0,
      correct,
      reason: correct ? 'exact match' : 'no exact match',
      extracted,
    };
  } catch (err) {
    return { reward: 0, correct: false, reason: `verifier error: ${(err as Error)?.message ?? String(err)}` };
  }
};
