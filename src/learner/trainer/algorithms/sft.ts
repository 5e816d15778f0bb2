import type { CausalLM } from '../../model/causal-lm.js';
import { sftLoss } from '../../objectives/sft.js';
import { batchTensors, disposeBatch } from '../batch.js';
import type { SftMetrics } from '../metrics.js';
import type { TrainConfig } from '../types.js';
import {
  allWeights,
  type AlgorithmState,
  type AlgorithmStep,
  type StepContext,
  type SupervisedAlgorithm,
  type SupervisedExperience,
  type TrainableSelector,
} from './algorithm.js';
import { Updater } from './updater.js';

/** Supervised fine-tuning on (prompt, target) pairs: the cold start before RL. Owns only its optimizer. */
export class SftAlgorithm implements SupervisedAlgorithm {
  readonly name = 'sft';
  readonly experience = 'supervised';
  private readonly updater: Updater;

  constructor(
    config: TrainConfig,
    private readonly policy: CausalLM,
    trainable: TrainableSelector = allWeights,
  ) {
    this.updater = new Updater(new Map(trainable(policy)), config.optimizer);
  }

  step({ batch }: SupervisedExperience, { lr }: StepContext): Promise<AlgorithmStep<SftMetrics>> {
    const t = batchTensors(batch);
    try {
      const update = this.updater.update(lr, () => {
        const out = this.policy.forward(t.inputIds, { attentionMask: t.attentionMask });
        return sftLoss({ logits: out.logits, targetIds: t.targetIds, completionMask: t.completionMask });
      });
      return Promise.resolve({
        metrics: { algorithm: 'sft', loss: update.loss, grad_norm: update.gradNorm },
        events: [],
      });
    } finally {
      disposeBatch(t);
    }
  }

  saveState(): Promise<AlgorithmState> {
    return this.updater.saveState();
  }

  loadState(state: AlgorithmState): void {
    this.updater.loadState(state);
  }

  dispose(): void {
    this.updater.dispose();
  }
}
