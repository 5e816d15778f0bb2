import type { CausalLM } from '../../model/causal-lm.js';
import type { TrainConfig } from '../types.js';
import { trainableOf, type TrainableSelector, type TrainingAlgorithm } from './algorithm.js';
import { GrpoAlgorithm } from './grpo.js';
import { PopoAlgorithm } from './popo.js';
import { SftAlgorithm } from './sft.js';

export * from './algorithm.js';
export { GrpoAlgorithm } from './grpo.js';
export { PopoAlgorithm } from './popo.js';
export { SftAlgorithm } from './sft.js';
export { Updater, type Update } from './updater.js';

export interface AlgorithmOptions {
  /** The parameters training updates (and an EMA target tracks); the adapters under LoRA, else every weight. */
  trainable?: TrainableSelector;
}

/** The algorithm object a run's config names, built around the policy θ it trains. */
export function createAlgorithm(
  config: TrainConfig,
  policy: CausalLM,
  { trainable = trainableOf(policy) }: AlgorithmOptions = {},
): TrainingAlgorithm {
  switch (config.algorithm) {
    case 'popo':
      return new PopoAlgorithm(config, policy, trainable);
    case 'grpo':
      return new GrpoAlgorithm(config, policy, trainable);
    case 'sft':
      return new SftAlgorithm(config, policy, trainable);
  }
}
