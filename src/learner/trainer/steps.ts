import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/causal-lm.js';
import { grpoLoss, readGrpoStats } from '../objectives/grpo.js';
import { popoLoss, readPopoStats, type PopoStats } from '../objectives/popo.js';
import { sftLoss } from '../objectives/sft.js';
import { tokenLogProbs } from '../objectives/tensor-ops.js';
import { batchTensors, disposeBatch, type SequenceBatch } from './batch.js';
import type { AdamW } from './optimizer.js';
import type { Predictor } from './predictor.js';
import type { TrainConfig } from './types.js';

/** Named trainable tensors: θ's weights, plus φ's for POPO. */
export type ParamSet = Map<string, tf.Variable>;

export interface StepOutcome {
  gradNorm: number;
  updateNorm: number;
  stats: Record<string, number>;
}

/**
 * tf.variableGrads keys gradients by tfjs's process-global variable names; map them back to our stable names
 * (the ones the optimizer and checkpoints use).
 */
function gradsByName(
  params: ParamSet,
  f: () => tf.Scalar,
): { value: tf.Scalar; grads: Map<string, tf.Tensor> } {
  const list = [...params.entries()];
  const { value, grads } = tf.variableGrads(
    f,
    list.map(([, v]) => v),
  );
  const out = new Map<string, tf.Tensor>();
  for (const [name, v] of list) {
    const g = grads[v.name];
    if (g) out.set(name, g);
  }
  return { value, grads: out };
}

function applyGrads(
  optimizer: AdamW,
  lr: number,
  params: ParamSet,
  f: () => tf.Scalar,
): { loss: number; gradNorm: number; updateNorm: number } {
  const { value, grads } = gradsByName(params, f);
  try {
    const { gradNorm, updateNorm } = optimizer.apply(grads, lr);
    return { loss: value.dataSync()[0], gradNorm, updateNorm };
  } finally {
    value.dispose();
    tf.dispose([...grads.values()]);
  }
}

function readAndDispose(t: tf.Scalar): number {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
}

export interface PopoStepInput {
  policy: CausalLM;
  siamese: CausalLM;
  predictor: Predictor;
  batch: SequenceBatch;
  rewards: number[];
  noiseSeed: number;
}

export async function popoStep(
  config: TrainConfig,
  optimizer: AdamW,
  params: ParamSet,
  lr: number,
  input: PopoStepInput,
): Promise<StepOutcome & { popo: PopoStats; skipped: boolean }> {
  const t = batchTensors(input.batch);
  const p = config.popo;
  const needXi = p.alpha > 0;
  // ξ never receives gradient: its pass runs outside the gradient function.
  const xi = needXi
    ? tf.tidy(() => {
        const { logits, hidden } = input.siamese.forward(t.inputIds, { attentionMask: t.attentionMask });
        return { logits, hidden };
      })
    : undefined;
  let result: ReturnType<typeof popoLoss> | undefined;
  // Positive-only learning has nothing to learn from a batch without a single positive. Stepping anyway would
  // let the entropy bonus alone drive the policy toward uniform (Adam rescales its small gradient to a full step),
  // so such a step is measured but not taken: θ, φ, the optimizer moments and ξ stay as they are.
  const anyPositive = input.rewards.some((r) => r >= 0.5);
  const loss = () => {
    const out = input.policy.forward(t.inputIds, { attentionMask: t.attentionMask });
    result = popoLoss(
      {
        logits: out.logits,
        targetIds: t.targetIds,
        completionMask: t.completionMask,
        rewards: input.rewards,
        groupSize: config.sampling.group_size,
        hidden: out.hidden,
        siameseHidden: xi?.hidden,
        siameseLogits: p.anchor === 'kl' ? xi?.logits : undefined,
        predictor: input.predictor,
        noiseSeed: input.noiseSeed,
      },
      p,
    );
    return result.loss;
  };
  try {
    const step = anyPositive
      ? applyGrads(optimizer, lr, params, loss)
      : { gradNorm: 0, updateNorm: 0, loss: readAndDispose(tf.tidy(loss)) };
    const stats = await readPopoStats(result!);
    return {
      skipped: !anyPositive,
      gradNorm: step.gradNorm,
      updateNorm: step.updateNorm,
      popo: stats,
      stats: {
        loss: stats.loss,
        nll: stats.nll,
        l_sim: p.anchor === 'kl' ? stats.klAnchor : stats.lSim,
        l_ent: stats.lEnt,
        entropy: stats.entropy,
      },
    };
  } finally {
    if (xi) tf.dispose([xi.logits, xi.hidden]);
    disposeBatch(t);
  }
}

export interface GrpoStepInput {
  policy: CausalLM;
  reference?: CausalLM;
  batch: SequenceBatch;
  rewards: number[];
}

/** Per-token log-probs of the targets under a model, without gradient ([N,T]). */
function targetLogProbs(model: CausalLM, t: ReturnType<typeof batchTensors>): tf.Tensor2D {
  return tf.tidy(() => {
    const { logits } = model.forward(t.inputIds, { attentionMask: t.attentionMask });
    return tokenLogProbs(tf.logSoftmax(logits), t.targetIds);
  });
}

/** μ epochs on one rollout batch against the log-probs of the policy that sampled it. */
export async function grpoStep(
  config: TrainConfig,
  optimizer: AdamW,
  params: ParamSet,
  lr: number,
  input: GrpoStepInput,
): Promise<StepOutcome> {
  const t = batchTensors(input.batch);
  const oldLogProbs = targetLogProbs(input.policy, t);
  const refLogProbs =
    config.grpo.kl_beta > 0 && input.reference ? targetLogProbs(input.reference, t) : undefined;
  const sums: Record<string, number> = {};
  let gradNorm = 0;
  let updateNorm = 0;
  try {
    for (let epoch = 0; epoch < config.grpo.mu; epoch++) {
      let result: ReturnType<typeof grpoLoss> | undefined;
      const step = applyGrads(optimizer, lr, params, () => {
        const out = input.policy.forward(t.inputIds, { attentionMask: t.attentionMask });
        result = grpoLoss(
          {
            logits: out.logits,
            targetIds: t.targetIds,
            completionMask: t.completionMask,
            rewards: input.rewards,
            groupSize: config.sampling.group_size,
            oldLogProbs,
            refLogProbs,
          },
          { ...config.grpo, max_completion_length: config.sampling.max_new_tokens },
        );
        return result.loss;
      });
      gradNorm = Math.max(gradNorm, step.gradNorm);
      updateNorm = Math.max(updateNorm, step.updateNorm);
      const stats = await readGrpoStats(result!);
      for (const [k, v] of Object.entries(stats))
        if (typeof v === 'number') sums[k] = (sums[k] ?? 0) + v / config.grpo.mu;
    }
  } finally {
    tf.dispose([oldLogProbs, ...(refLogProbs ? [refLogProbs] : [])]);
    disposeBatch(t);
  }
  return { gradNorm, updateNorm, stats: sums };
}

export async function sftStep(
  optimizer: AdamW,
  params: ParamSet,
  lr: number,
  policy: CausalLM,
  batch: SequenceBatch,
): Promise<StepOutcome> {
  const t = batchTensors(batch);
  try {
    const step = applyGrads(optimizer, lr, params, () => {
      const out = policy.forward(t.inputIds, { attentionMask: t.attentionMask });
      return sftLoss({ logits: out.logits, targetIds: t.targetIds, completionMask: t.completionMask });
    });
    return {
      gradNorm: step.gradNorm,
      updateNorm: step.updateNorm,
      stats: { loss: step.loss, nll: step.loss },
    };
  } finally {
    disposeBatch(t);
  }
}
