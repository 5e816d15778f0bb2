import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../../model/causal-lm.js';
import { combineGrpoStats, grpoLoss, readGrpoStats, type GrpoStats } from '../../objectives/grpo.js';
import { temperedLogSoftmax, tokenLogProbs } from '../../objectives/tensor-ops.js';
import { batchTensors, disposeBatch, microBatchRanges, sliceBatch, type BatchTensors } from '../batch.js';
import type { GrpoMetrics } from '../metrics.js';
import type { TrainConfig } from '../types.js';
import {
  allWeights,
  loraDropoutSeed,
  mergeStates,
  partDropoutSeed,
  type AlgorithmState,
  type AlgorithmStep,
  type RolloutAlgorithm,
  type RolloutExperience,
  type StepContext,
  type TrainableSelector,
} from './algorithm.js';
import { Updater } from './updater.js';

/**
 * Per-token log-probs of the targets under a model at the sampling temperature, without gradient ([N,T]);
 * adapters false: under its base (LoRA switched off).
 */
function targetLogProbs(model: CausalLM, t: BatchTensors, temperature: number, adapters = true): tf.Tensor2D {
  return tf.tidy(() => {
    const { logits } = model.forward(t.inputIds, { attentionMask: t.attentionMask, adapters });
    return tokenLogProbs(temperedLogSoftmax(logits, temperature), t.targetIds);
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
 * an optional k3 KL to a frozen reference. Owns the reference (the run's base policy) and the optimizer. Under
 * LoRA the reference is the policy with its adapters switched off — the frozen base, as TRL does with PEFT — so
 * it costs no copy and no checkpoint space.
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
    if (config.grpo.kl_beta > 0 && !policy.lora) this.reference = policy.clone();
    this.updater = new Updater(new Map(trainable(policy)), config.optimizer);
  }

  async step(
    { rollout, batch }: RolloutExperience,
    { lr, rng }: StepContext,
  ): Promise<AlgorithmStep<GrpoMetrics>> {
    const { grpo, sampling, optimizer } = this.config;
    const policy = this.policy;
    // Old, reference and current log-probs all at the rollouts' temperature, as TRL's GRPOTrainer.
    const temperature = sampling.temperature;
    // Micro-batches need nothing from each other: advantages are host numbers from the whole batch's rewards,
    // and the losses are normalised by whole-batch counts (BatchPart).
    const ranges = microBatchRanges(batch.n, optimizer.micro_batch_size);
    const split = ranges.length > 1;
    const parts = ranges.map(([start, end]) => {
      const t = batchTensors(split ? sliceBatch(batch, start, end) : batch);
      return {
        t,
        part: split ? { start, completionLengths: batch.completionTokens } : undefined,
        oldLogProbs: targetLogProbs(policy, t, temperature),
        refLogProbs:
          grpo.kl_beta > 0
            ? this.reference
              ? targetLogProbs(this.reference, t, temperature)
              : targetLogProbs(policy, t, temperature, false)
            : undefined,
      };
    });
    const sums = Object.fromEntries(Object.values(FIELDS).map((k) => [k, 0])) as GrpoFields;
    let gradNorm = 0;
    try {
      for (let epoch = 0; epoch < grpo.mu; epoch++) {
        const results: ReturnType<typeof grpoLoss>[] = [];
        const dropoutSeed = loraDropoutSeed(policy, rng);
        const losses = parts.map(({ t, part, oldLogProbs, refLogProbs }, i) => () => {
          const out = policy.forward(t.inputIds, {
            attentionMask: t.attentionMask,
            dropoutSeed: partDropoutSeed(dropoutSeed, i),
          });
          const result = grpoLoss(
            {
              logits: out.logits,
              targetIds: t.targetIds,
              completionMask: t.completionMask,
              rewards: rollout.rewards,
              groupSize: sampling.group_size,
              temperature,
              oldLogProbs,
              refLogProbs,
              part,
            },
            { ...grpo, max_completion_length: sampling.max_new_tokens },
          );
          results.push(result);
          return result.loss;
        });
        const update = await this.updater.update(lr, losses);
        gradNorm = Math.max(gradNorm, update.gradNorm);
        const stats = combineGrpoStats(await Promise.all(results.map((r) => readGrpoStats(r))));
        for (const [from, to] of Object.entries(FIELDS)) sums[to] += stats[from as keyof GrpoStats] / grpo.mu;
      }
    } finally {
      for (const p of parts) {
        tf.dispose([p.oldLogProbs, ...(p.refLogProbs ? [p.refLogProbs] : [])]);
        disposeBatch(p.t);
      }
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
