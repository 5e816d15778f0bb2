import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../../model/causal-lm.js';
import { grpoLoss, readGrpoStats, type GrpoStats } from '../../objectives/grpo.js';
import { tokenLogProbs } from '../../objectives/tensor-ops.js';
import { batchTensors, disposeBatch } from '../batch.js';
import type { GrpoMetrics } from '../metrics.js';
import type { TrainConfig } from '../types.js';
import {
  allWeights,
  mergeStates,
  type AlgorithmState,
  type AlgorithmStep,
  type RolloutAlgorithm,
  type RolloutExperience,
  type StepContext,
  type TrainableSelector,
} from './algorithm.js';
import { Updater } from './updater.js';

/** Per-token log-probs of the targets under a model, without gradient ([N,T]). */
function targetLogProbs(model: CausalLM, t: ReturnType<typeof batchTensors>): tf.Tensor2D {
  return tf.tidy(() => {
    const { logits } = model.forward(t.inputIds, { attentionMask: t.attentionMask });
    return tokenLogProbs(tf.logSoftmax(logits), t.targetIds);
  });
}

/** GRPO statistics (camelCase, from the objective) → the snake_case metric fields. */
const FIELDS = {
  loss: 'loss',
  pgLoss: 'pg_loss',
  kl: 'kl',
  clipFraction: 'clip_fraction',
  lowClipFraction: 'low_clip_fraction',
  highClipFraction: 'high_clip_fraction',
  ratioMean: 'ratio_mean',
  entropy: 'entropy',
  meanAdvantage: 'mean_advantage',
  meanAbsAdvantage: 'mean_abs_advantage',
  zeroAdvantageGroupFraction: 'zero_advantage_group_fraction',
} as const satisfies Record<keyof GrpoStats, keyof GrpoMetrics>;

type GrpoFields = { [K in (typeof FIELDS)[keyof typeof FIELDS]]: number };

/**
 * GRPO (the baseline): μ clipped-surrogate epochs per rollout batch against the sampling policy's log-probs, with
 * an optional k3 KL to a frozen reference. Owns the reference (the run's base policy) and the optimizer.
 */
export class GrpoAlgorithm implements RolloutAlgorithm<GrpoMetrics> {
  readonly name = 'grpo';
  readonly experience = 'rollout';
  private readonly reference?: CausalLM;
  private readonly updater: Updater;

  constructor(
    private readonly config: TrainConfig,
    private readonly policy: CausalLM,
    trainable: TrainableSelector = allWeights,
  ) {
    // A resumed run overwrites it with the checkpointed reference: the run's base, not the θ being resumed.
    if (config.grpo.kl_beta > 0) this.reference = policy.clone();
    this.updater = new Updater(new Map(trainable(policy)), config.optimizer);
  }

  async step(
    { rollout, batch }: RolloutExperience,
    { lr }: StepContext,
  ): Promise<AlgorithmStep<GrpoMetrics>> {
    const { grpo, sampling } = this.config;
    const t = batchTensors(batch);
    const oldLogProbs = targetLogProbs(this.policy, t);
    const refLogProbs = this.reference ? targetLogProbs(this.reference, t) : undefined;
    const sums = Object.fromEntries(Object.values(FIELDS).map((k) => [k, 0])) as GrpoFields;
    let gradNorm = 0;
    try {
      for (let epoch = 0; epoch < grpo.mu; epoch++) {
        let result: ReturnType<typeof grpoLoss> | undefined;
        const update = this.updater.update(lr, () => {
          const out = this.policy.forward(t.inputIds, { attentionMask: t.attentionMask });
          result = grpoLoss(
            {
              logits: out.logits,
              targetIds: t.targetIds,
              completionMask: t.completionMask,
              rewards: rollout.rewards,
              groupSize: sampling.group_size,
              oldLogProbs,
              refLogProbs,
            },
            { ...grpo, max_completion_length: sampling.max_new_tokens },
          );
          return result.loss;
        });
        gradNorm = Math.max(gradNorm, update.gradNorm);
        const stats = await readGrpoStats(result!);
        for (const [from, to] of Object.entries(FIELDS)) sums[to] += stats[from as keyof GrpoStats] / grpo.mu;
      }
    } finally {
      tf.dispose([oldLogProbs, ...(refLogProbs ? [refLogProbs] : [])]);
      disposeBatch(t);
    }
    return { metrics: { algorithm: 'grpo', grad_norm: gradNorm, ...sums }, events: [] };
  }

  async saveState(): Promise<AlgorithmState> {
    const own: AlgorithmState = { tensors: {}, scalars: {} };
    if (this.reference) own.tensors.reference = await this.reference.stateDict();
    return mergeStates(own, await this.updater.saveState());
  }

  loadState(state: AlgorithmState): void {
    if (this.reference) {
      if (!state.tensors.reference)
        throw new Error('checkpoint has no GRPO reference policy: it was written without kl_beta');
      this.reference.loadStateDict(state.tensors.reference, 'checkpoint reference');
    }
    this.updater.loadState(state);
  }

  dispose(): void {
    this.updater.dispose();
    this.reference?.dispose();
  }
}
