import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend.js';
import { CausalLM } from '../../model/causal-lm.js';
import type { ModelConfig } from '../../model/config.js';
import { Rng } from '../../util/random.js';
import { buildSequenceBatch, microBatchRanges, type SequenceBatch } from '../batch.js';
import { resolveConfig } from '../config.js';
import type { Rollout } from '../rollout.js';
import type { TrainConfig } from '../types.js';
import { popoLoss } from '../../objectives/popo.js';
import { createAlgorithm } from './index.js';

const CFG: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 40,
  max_position_embeddings: 64,
  tie_word_embeddings: true,
  initializer_range: 0.2,
};

const G = 4;
// Two groups, several positives in each (the softmax weights over S+ matter), one group with a single negative.
const REWARDS = [1, 0, 1, 1, 0, 1, 1, 1];

/** Prompts and completions of different lengths, so padding and per-row lengths differ across micro-batches. */
function batchOf(): SequenceBatch {
  const rng = new Rng(11);
  const ids = (n: number) => Array.from({ length: n }, () => 1 + rng.int(CFG.vocab_size - 1));
  const prompts = [ids(3), ids(5)];
  const rows = REWARDS.map((_, r) => prompts[Math.floor(r / G)]);
  const completions = REWARDS.map((_, r) => ids(2 + ((r * 3) % 5)));
  return buildSequenceBatch(rows, completions, 0);
}

function rolloutOf(batch: SequenceBatch): Rollout {
  return {
    promptIds: [],
    completionIds: [],
    texts: REWARDS.map(() => ''),
    rewards: [...REWARDS].slice(0, batch.n),
    correct: REWARDS.map((r) => r > 0),
  };
}

function config(algorithm: 'popo' | 'grpo' | 'sft', extra: Record<string, unknown>): TrainConfig {
  return resolveConfig({
    algorithm,
    seed: 3,
    model: { builtin: 'tiny-86k' },
    data: { train: [{ id: '1', problem: '1', answer: '1' }] },
    sampling: { group_size: G, prompts_per_step: 2, max_new_tokens: 6 },
    // A large eps makes Adam's step proportional to the gradient (not its sign), so a gradient off by a factor
    // would show in the parameters too.
    optimizer: { lr: 0.5, eps: 0.1, weight_decay: 0.01, clip_grad_norm: 0.5 },
    ...extra,
  });
}

interface Outcome {
  params: Map<string, Float32Array>;
  metrics: Record<string, unknown>;
  weights?: number[];
}

/** Two steps of an algorithm from the same initial policy and random stream, with the given micro-batch size. */
async function run(cfg: TrainConfig, microBatch: number | undefined): Promise<Outcome> {
  const c = { ...cfg, optimizer: { ...cfg.optimizer, micro_batch_size: microBatch } };
  const policy = CausalLM.create(CFG, 5);
  const algo = createAlgorithm(c, policy);
  const batch = batchOf();
  const rng = new Rng(9);
  let out;
  try {
    for (let i = 0; i < 2; i++) {
      out =
        algo.experience === 'rollout'
          ? await algo.step({ rollout: rolloutOf(batch), batch, prompts: [] }, { lr: 0.5, rng })
          : await algo.step({ batch }, { lr: 0.5, rng });
    }
    const params = new Map([...policy.weights()].map(([k, v]) => [k, v.dataSync() as Float32Array]));
    return {
      params,
      metrics: out!.metrics as unknown as Record<string, unknown>,
      weights: out!.sampleWeights && Array.from(out!.sampleWeights),
    };
  } finally {
    algo.dispose();
    policy.dispose();
  }
}

function expectSame(a: Outcome, b: Outcome): void {
  let worst = 0;
  let moved = 0;
  const init = CausalLM.create(CFG, 5);
  const start = new Map([...init.weights()].map(([k, v]) => [k, v.dataSync()]));
  init.dispose();
  for (const [name, x] of a.params) {
    const y = b.params.get(name)!;
    for (let i = 0; i < x.length; i++) {
      worst = Math.max(worst, Math.abs(x[i] - y[i]));
      moved = Math.max(moved, Math.abs(x[i] - start.get(name)![i]));
    }
  }
  expect(moved).toBeGreaterThan(1e-2); // the steps did move the weights
  expect(worst).toBeLessThan(1e-5);
  for (const [k, v] of Object.entries(a.metrics)) {
    if (typeof v !== 'number') continue;
    // Relative: float32 sums in another order.
    expect(Math.abs((b.metrics[k] as number) - v), k).toBeLessThan(1e-5 * Math.max(1, Math.abs(v)));
  }
  if (a.weights) {
    expect(b.weights).toHaveLength(a.weights.length);
    a.weights.forEach((w, i) => expect(b.weights![i]).toBeCloseTo(w, 6));
  }
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('microBatchRanges', () => {
  it('keeps whole groups when the size allows, else cuts at the size', () => {
    expect(microBatchRanges(8, undefined, 4)).toEqual([[0, 8]]);
    expect(microBatchRanges(8, 8, 4)).toEqual([[0, 8]]);
    expect(microBatchRanges(8, 6, 4)).toEqual([
      [0, 4],
      [4, 8],
    ]);
    expect(microBatchRanges(8, 3, 4)).toEqual([
      [0, 3],
      [3, 6],
      [6, 8],
    ]);
    expect(microBatchRanges(5, 2)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
  });
});

describe('optimizer.micro_batch_size: gradient accumulation gives the whole batch update', () => {
  const cases: [string, TrainConfig][] = [
    ['popo softmax weights, sim anchor', config('popo', { popo: { alpha: 0.5, beta: 0.05, sigma: 0.1 } })],
    [
      'popo sequence-normalised NLL, kl anchor',
      config('popo', { popo: { alpha: 0.5, beta: 0.05, anchor: 'kl', nll_norm: 'sequence' } }),
    ],
    ['popo uniform weights', config('popo', { popo: { weight_mode: 'uniform', alpha: 0.3 } })],
    [
      'grpo batch-scaled advantages, KL reference, 2 epochs',
      config('grpo', { grpo: { kl_beta: 0.2, scale_rewards: 'batch', mu: 2 } }),
    ],
    ['grpo seq-mean-token-mean', config('grpo', { grpo: { loss_agg: 'seq-mean-token-mean' } })],
    ['grpo seq-mean-token-sum-norm', config('grpo', { grpo: { loss_agg: 'seq-mean-token-sum-norm' } })],
    ['sft', config('sft', {})],
  ];
  for (const [name, cfg] of cases) {
    it(`${name}: micro-batches of 1, 3 and 4 rows = the whole batch`, { timeout: 120_000 }, async () => {
      const before = tf.memory().numTensors;
      const full = await run(cfg, undefined);
      for (const size of [1, 3, 4]) expectSame(full, await run(cfg, size));
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it('the comparison can fail: another reward layout gives another update', { timeout: 60_000 }, async () => {
    const cfg = config('popo', {});
    const a = await run(cfg, undefined);
    REWARDS.reverse();
    try {
      const b = await run(cfg, 1);
      expect(() => expectSame(a, b)).toThrow();
    } finally {
      REWARDS.reverse();
    }
  });

  it('popoLoss refuses a micro-batch that splits a group without the whole batch scores', () => {
    const t = tf.tidy(() => ({
      logits: tf.randomNormal([2, 3, 5]) as tf.Tensor3D,
      targetIds: tf.zeros([2, 3], 'int32') as tf.Tensor2D,
      completionMask: tf.ones([2, 3]) as tf.Tensor2D,
    }));
    const part = { start: 1, completionLengths: [3, 3, 3, 3] };
    expect(() =>
      popoLoss({ ...t, rewards: [1, 0, 1, 1], groupSize: 4, part }, { alpha: 0, beta: 0 }),
    ).toThrow(/part.scores/);
    const ok = popoLoss(
      { ...t, rewards: [1, 0, 1, 1], groupSize: 4, part: { ...part, scores: [-1, -2, -1, -3] } },
      { alpha: 0, beta: 0 },
    );
    tf.dispose([ok.loss, ...Object.values(ok.stats), ...Object.values(t)]);
  });
});
