import type { Rng } from '../util/random.js';
import type { RolloutExperience, SupervisedExperience } from './algorithms/algorithm.js';
import { buildSequenceBatch } from './batch.js';
import type { TrainingData } from './data-source.js';
import { encodePrompt, type Policy } from './policy-source.js';
import { rollout } from './rollout.js';
import type { SamplingParams } from './types.js';

/** B training prompts drawn with replacement, G completions each from the current policy, verified. */
export async function sampleRollouts(
  policy: Policy,
  data: TrainingData,
  sampling: SamplingParams,
  rng: Rng,
): Promise<RolloutExperience> {
  const prompts = Array.from(
    { length: sampling.prompts_per_step },
    () => data.train[rng.int(data.train.length)],
  );
  const roll = await rollout(policy, prompts, sampling, data.reward, rng, data.prompts);
  const batch = buildSequenceBatch(roll.promptIds, roll.completionIds, policy.tokenizer.padId);
  return { rollout: roll, batch, prompts };
}

/** `size` (prompt, target) pairs drawn with replacement, the target closed by EOS or the template's end of turn. */
export function sampleSupervised(
  policy: Policy,
  data: TrainingData,
  size: number,
  rng: Rng,
): SupervisedExperience {
  const tok = policy.tokenizer;
  const rows = Array.from({ length: size }, () => data.sftPairs[rng.int(data.sftPairs.length)]);
  const promptIds = rows.map((r) => encodePrompt(tok, policy.prompt.render({ problem: r.prompt })));
  const completionIds = rows.map((r) => [...tok.encode(r.completion), policy.prompt.endId]);
  return { batch: buildSequenceBatch(promptIds, completionIds, tok.padId) };
}
