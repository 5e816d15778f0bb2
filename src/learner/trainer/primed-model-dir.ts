import { join } from 'node:path';
import { exportPolicy } from './checkpoint.js';
import { resolveConfig } from './config.js';
import { writeTinyModelDir } from './tiny-model-dir.js';
import { train } from './train.js';
import type { Example } from './types.js';

/** Every answer is "1": a few SFT steps make it likely but not certain, so rollout groups mix right and wrong. */
export const ONES: Example[] = Array.from({ length: 16 }, (_, i) => ({
  id: String(i),
  problem: `${i}=`,
  answer: '1',
  completion: '1',
}));

/**
 * For tests of RL steps: a random policy almost never answers right, and POPO rightly skips batches without
 * positives, so they start from a tiny model briefly fine-tuned on ONES (40 SFT steps on cpu). Writes the random
 * model to `<dir>/random` and the fine-tuned one to `<dir>/primed`.
 */
export async function writePrimedModelDir(dir: string): Promise<{ random: string; primed: string }> {
  const random = await writeTinyModelDir(join(dir, 'random'));
  const sft = await train(
    resolveConfig({
      algorithm: 'sft',
      steps: 40,
      backend: 'cpu',
      model: { path: random },
      data: { train: ONES, reward: 'exact' },
      sft: { batch_size: 8 },
      optimizer: { lr: 0.01 },
      checkpoint_every: 0,
    }),
  );
  const primed = join(dir, 'primed');
  await exportPolicy(sft.final_checkpoint!, primed);
  return { random, primed };
}
