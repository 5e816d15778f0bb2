import type { CausalLM } from '../../model/causal-lm.js';
import { sftLoss } from '../../objectives/sft.js';
import { batchTensors, disposeBatch, microBatchRanges, sliceBatch } from '../batch.js';
import type { SftMetrics } from '../metrics.js';
import type { TrainConfig } from '../types.js';
import {
  allWeights,
  loraDropoutSeed,
  partDropoutSeed,
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
    private readonly config: TrainConfig,
    private readonly policy: CausalLM,
    trainable: TrainableSelector = allWeights,
  ) {
    this.updater = new Updater(new Map(trainable(policy)), config.optimizer);
  }

  async step({ batch }: SupervisedExperience, { lr, rng }: StepContext): Promise<AlgorithmStep<SftMetrics>> {
    const ranges = microBatchRanges(batch.n, this.config.optimizer.micro_batch_size);
    const tokens = ranges.length > 1 ? batch.completionTokens.reduce((a, b) => a + b, 0) : undefined;
    const policy = this.policy;
    const dropoutSeed = loraDropoutSeed(policy, rng);
    function* parts() {
      for (const [i, [start, end]] of ranges.entries()) {
        const t = batchTensors(ranges.length > 1 ? sliceBatch(batch, start, end) : batch);
        try {
          yield () => {
            const out = policy.forward(t.inputIds, {
              attentionMask: t.attentionMask,
              dropoutSeed: partDropoutSeed(dropoutSeed, i),
            });
            return sftLoss(
              { logits: out.logits, targetIds: t.targetIds, completionMask: t.completionMask },
              tokens,
            );
          };
        } finally {
          disposeBatch(t);
        }
      }
    }
    const update = await this.updater.update(lr, parts());
    return { metrics: { algorithm: 'sft', loss: update.loss, grad_norm: update.gradNorm }, events: [] };
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
