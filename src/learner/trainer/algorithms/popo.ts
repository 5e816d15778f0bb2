import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../../model/causal-lm.js';
import {
  combinePopoStats,
  popoLoss,
  popoWarnings,
  positiveMask,
  readPopoStats,
  sequenceScores,
  type PopoResult,
} from '../../objectives/popo.js';
import { batchTensors, disposeBatch, microBatchRanges, sliceBatch, type SequenceBatch } from '../batch.js';
import { assignRecords, variableRecords } from '../checkpoint.js';
import { DriftBoundTracker, emaUpdate, paramDistance } from '../ema.js';
import type { PopoMetrics } from '../metrics.js';
import { Predictor } from '../predictor.js';
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
import { evaluateLoss, Updater, type Update } from './updater.js';

/**
 * POPO: the policy θ learns from its positive completions only, anchored to an EMA siamese policy ξ through the
 * predictor head h_φ. Owns ξ, φ, the optimizer over θ and φ, and the running Lemma 3.2 bound.
 */
export class PopoAlgorithm implements RolloutAlgorithm<PopoMetrics> {
  readonly name = 'popo';
  readonly experience = 'rollout';
  private readonly siamese: CausalLM;
  private readonly predictor: Predictor;
  private readonly updater: Updater;
  private readonly drift: DriftBoundTracker;

  constructor(
    private readonly config: TrainConfig,
    private readonly policy: CausalLM,
    private readonly trainable: TrainableSelector = allWeights,
  ) {
    // ξ starts as θ; a resumed run overwrites it with the checkpointed ξ. Under LoRA only the adapters are
    // copied: the frozen base is the same tensors for both.
    this.siamese = policy.lora ? policy.withSharedBase() : policy.clone();
    this.predictor = new Predictor({
      inputDim: policy.config.hidden_size as number,
      hiddenDim: config.popo.predictor_dim,
      seed: config.seed + 1,
    });
    const params = new Map(trainable(policy));
    for (const [name, v] of this.predictor.variables()) params.set(name, v);
    this.updater = new Updater(params, config.optimizer);
    this.drift = new DriftBoundTracker(config.popo.ema ? config.popo.tau : 1);
  }

  async step(
    { rollout, batch }: RolloutExperience,
    { lr, rng }: StepContext,
  ): Promise<AlgorithmStep<PopoMetrics>> {
    const noiseSeed = rng.int(2 ** 31);
    const dropoutSeed = loraDropoutSeed(this.policy, rng);
    const p = this.config.popo;
    const g = this.config.sampling.group_size;
    const ranges = microBatchRanges(batch.n, this.config.optimizer.micro_batch_size, g);
    // Positive-only learning has nothing to learn from a batch without a single positive. Stepping anyway would
    // let the entropy bonus alone drive the policy toward uniform (Adam rescales its small gradient to a full
    // step), so such a step is measured but not taken: θ, φ, the optimizer moments and ξ stay as they are.
    const skipped = !positiveMask(rollout.rewards, p.positive_threshold).some(Boolean);
    // The softmax over a group's positives needs the whole group's scores: micro-batches smaller than a group
    // get them from a pass of θ without gradient first (the weights are stop-gradient, so this is exact).
    const splitsGroups = ranges.some(([s, e]) => s % g !== 0 || (e - s) % g !== 0);
    const scores = splitsGroups && p.weight_mode === 'softmax' ? await this.scores(batch, ranges) : undefined;
    const results: PopoResult[] = [];
    const parts = this.lossParts(rollout.rewards, batch, ranges, scores, { noiseSeed, dropoutSeed }, results);
    let update: Update;
    try {
      update = skipped
        ? { gradNorm: 0, updateNorm: 0, loss: await evaluateLoss(parts) }
        : await this.updater.update(lr, parts);
    } catch (e) {
      for (const r of results) tf.dispose(Object.values(r.stats));
      throw e;
    }
    const parsed = await Promise.all(results.map((r) => readPopoStats(r)));
    const stats = parsed.length === 1 ? parsed[0] : combinePopoStats(parsed);
    if (!skipped && p.ema) this.emaUpdate();
    const driftBound = this.drift.observe(update.updateNorm);

    const events: AlgorithmStep<PopoMetrics>['events'] = popoWarnings(stats).map((w) => ({
      level: 'warning',
      ...w,
    }));
    if (skipped) {
      events.push({
        level: 'warning',
        code: 'no_positives_step_skipped',
        message: 'no completion in the batch was correct: nothing to learn from, the update was skipped',
      });
    }
    return {
      metrics: {
        algorithm: 'popo',
        loss: stats.loss,
        grad_norm: update.gradNorm,
        entropy: stats.entropy,
        nll: stats.nll,
        l_sim: p.anchor === 'kl' ? stats.klAnchor : stats.lSim,
        l_ent: stats.lEnt,
        positive_fraction: stats.numPositive / stats.numSequences,
        zero_positive_group_fraction: stats.zeroPositiveFraction,
        mean_positive_set_size: stats.meanPositiveSetSize,
        drift: await this.driftNow(),
        drift_bound: driftBound,
      },
      events,
      sampleWeights: stats.weights,
    };
  }

  /**
   * The loss of each micro-batch (one, the whole batch, unless optimizer.micro_batch_size splits it). ξ's pass
   * runs before each gradient function, outside it (ξ never receives gradient), and lives for one micro-batch.
   */
  private *lossParts(
    rewards: number[],
    batch: SequenceBatch,
    ranges: [number, number][],
    scores: number[] | undefined,
    { noiseSeed, dropoutSeed }: { noiseSeed: number; dropoutSeed?: number },
    results: PopoResult[],
  ): Generator<() => tf.Scalar> {
    const p = this.config.popo;
    const split = ranges.length > 1;
    for (const [i, [start, end]] of ranges.entries()) {
      const t = batchTensors(split ? sliceBatch(batch, start, end) : batch);
      const xi =
        p.alpha > 0
          ? tf.tidy(() => {
              const { logits, hidden } = this.siamese.forward(t.inputIds, { attentionMask: t.attentionMask });
              return { logits, hidden };
            })
          : undefined;
      try {
        yield () => {
          const out = this.policy.forward(t.inputIds, {
            attentionMask: t.attentionMask,
            dropoutSeed: partDropoutSeed(dropoutSeed, i),
          });
          const result = popoLoss(
            {
              logits: out.logits,
              targetIds: t.targetIds,
              completionMask: t.completionMask,
              rewards,
              groupSize: this.config.sampling.group_size,
              // NLL, weights, entropy and the KL anchor at the sampling temperature (the authors' logits / T).
              temperature: this.config.sampling.temperature,
              hidden: out.hidden,
              siameseHidden: xi?.hidden,
              siameseLogits: p.anchor === 'kl' ? xi?.logits : undefined,
              predictor: this.predictor,
              noiseSeed,
              part: split ? { start, completionLengths: batch.completionTokens, scores } : undefined,
            },
            p,
          );
          results.push(result);
          return result.loss;
        };
      } finally {
        if (xi) tf.dispose([xi.logits, xi.hidden]);
        disposeBatch(t);
      }
    }
  }

  /** θ's sequence scores for the whole batch, a micro-batch at a time, without gradient. */
  private async scores(batch: SequenceBatch, ranges: [number, number][]): Promise<number[]> {
    const out: number[] = [];
    for (const [start, end] of ranges) {
      const t = batchTensors(sliceBatch(batch, start, end));
      const s = tf.tidy(() =>
        sequenceScores({
          logits: this.policy.forward(t.inputIds, { attentionMask: t.attentionMask }).logits,
          targetIds: t.targetIds,
          completionMask: t.completionMask,
          temperature: this.config.sampling.temperature,
        }),
      );
      disposeBatch(t);
      out.push(...(await s.data()));
      s.dispose();
    }
    return out;
  }

  /** ξ ← τξ + (1−τ)θ over the trainable selection. */
  private emaUpdate(): void {
    const [xi, theta] = this.pairs();
    emaUpdate(xi, theta, this.config.popo.tau);
  }

  /** ‖θ − ξ‖ over the trainable selection. */
  private driftNow(): Promise<number> {
    const [xi, theta] = this.pairs();
    return paramDistance(theta, xi);
  }

  private pairs(): [tf.Variable[], tf.Variable[]] {
    const xi = this.trainable(this.siamese);
    const theta = this.trainable(this.policy);
    return [[...xi.values()], [...xi.keys()].map((k) => theta.get(k)!)];
  }

  async saveState(): Promise<AlgorithmState> {
    return mergeStates(
      {
        tensors: {
          // ξ differs from θ only in what trains (the whole model, or the adapters under LoRA).
          siamese: await variableRecords(this.trainable(this.siamese)),
          predictor: await variableRecords(this.predictor.variables()),
        },
        scalars: { g_max: this.drift.maxUpdateNorm },
      },
      await this.updater.saveState(),
    );
  }

  loadState(state: AlgorithmState): void {
    const { siamese, predictor } = state.tensors;
    if (!siamese) throw new Error('checkpoint has no siamese policy ξ: it was not written by a POPO run');
    assignRecords(this.trainable(this.siamese), siamese, 'checkpoint ξ');
    if (predictor) assignRecords(this.predictor.variables(), predictor, 'checkpoint predictor');
    this.updater.loadState(state);
    this.drift.maxUpdateNorm = state.scalars.g_max ?? 0;
  }

  dispose(): void {
    this.updater.dispose();
    this.predictor.dispose();
    this.siamese.dispose();
  }
}
