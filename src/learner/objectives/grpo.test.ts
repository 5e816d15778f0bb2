import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { initBackend } from '../backend.js';
import { aggregate, grpoAdvantages, grpoLoss, readGrpoStats, type GrpoResult } from './grpo.js';
import { disposeStats } from './stats.js';
import {
  batchTensors,
  expectClose,
  logSoftmax,
  randomBatch,
  sequenceLogProbs,
  softmax,
} from './test-reference.js';

beforeAll(async () => {
  await initBackend('cpu'); // also registers the gradients tfjs-core's node bundle lacks
});
let before = 0;
beforeEach(() => {
  before = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors).toBe(before);
});

describe('GRPO advantages', () => {
  const rewards = [1, 0, 0, 1, 1, 1, 1, 0];
  const eps = 1e-4;

  it('group scaling: (r − mean_g) / (sample std_g + 1e-4)', () => {
    const s0 = Math.sqrt((4 * 0.25) / 3); // group 0: two 1s, two 0s
    const s1 = Math.sqrt((3 * 0.0625 + 0.5625) / 3); // group 1: three 1s, one 0
    const want = [0.5, -0.5, -0.5, 0.5]
      .map((d) => d / (s0 + eps))
      .concat([0.25, 0.25, 0.25, -0.75].map((d) => d / (s1 + eps)));
    expectClose(grpoAdvantages(rewards, 4, 'group'), want, 1e-9);
  });

  it('batch scaling: group mean, batch std', () => {
    const sb = Math.sqrt((5 * 0.375 ** 2 + 3 * 0.625 ** 2) / 7);
    const want = [0.5, -0.5, -0.5, 0.5, 0.25, 0.25, 0.25, -0.75].map((d) => d / (sb + eps));
    expectClose(grpoAdvantages(rewards, 4, 'batch'), want, 1e-9);
  });

  it('none (Dr. GRPO): r − mean_g, and an all-equal group gets 0', () => {
    expectClose(grpoAdvantages(rewards, 4, 'none'), [0.5, -0.5, -0.5, 0.5, 0.25, 0.25, 0.25, -0.75], 1e-12);
    expect(grpoAdvantages([1, 1, 0, 0], 2, 'group')).toEqual([0, 0, 0, 0]);
  });

  it('rejects a batch that does not split into groups', () => {
    expect(() => grpoAdvantages([1, 0, 1], 2)).toThrow(/groupSize/);
  });
});

describe('GRPO clipped surrogate', () => {
  // One-token sequences with chosen ratios: exp(lp − old) = ratio by construction.
  const z = [
    [0.3, -1, 2],
    [1, 0.5, -0.5],
    [-0.2, 0.1, 0.7],
    [2, -1, 0],
  ];
  const ys = [2, 0, 1, 0];
  const ratios = [1.5, 0.5, 0.5, 1.5];
  const adv = [1, -1, 1, -1];

  function run(opts: object = {}) {
    const lp = z.map((row, i) => logSoftmax(row)[ys[i]]);
    const logits = tf.tensor3d(z.map((row) => [row]));
    const targetIds = tf.tensor2d(
      ys.map((y) => [y]),
      [4, 1],
      'int32',
    );
    const completionMask = tf.ones([4, 1]) as tf.Tensor2D;
    const oldLogProbs = tf.tensor2d(lp.map((l, i) => [l - Math.log(ratios[i])]));
    let res: GrpoResult | undefined;
    const grad = tf.grad((x: tf.Tensor) => {
      res = grpoLoss(
        {
          logits: x as tf.Tensor3D,
          targetIds,
          completionMask,
          oldLogProbs,
          rewards: [0, 0, 0, 0],
          groupSize: 2,
          advantages: adv,
        },
        { epsilon: 0.2, epsilon_high: 0.2, ...opts },
      );
      return res.loss;
    })(logits);
    const g = grad.arraySync() as number[][][];
    tf.dispose([grad, logits, targetIds, completionMask, oldLogProbs]);
    return { g, res: res as GrpoResult };
  }

  it('clips outside [1−ε, 1+ε_high] only where it lowers the objective, with zero gradient there', async () => {
    const { g, res } = run();
    const stats = await readGrpoStats(res);
    // −min(r·A, clip(r)·A): +A,r=1.5 → −1.2 (clipped); −A,r=0.5 → 0.8 (clipped); +A,r=0.5 → −0.5; −A,r=1.5 → 1.5.
    expect(stats.loss).toBeCloseTo((-1.2 + 0.8 - 0.5 + 1.5) / 4, 6);
    expect(stats.clipFraction).toBeCloseTo(0.5, 6);
    expect(stats.lowClipFraction).toBeCloseTo(0.25, 6);
    expect(stats.highClipFraction).toBeCloseTo(0.25, 6);
    expect(stats.ratioMean).toBeCloseTo(1, 5);
    // Clipped rows get no gradient; unclipped ones get −A·r·(e_y − π)/N.
    for (const i of [0, 1]) for (const x of g[i][0]) expect(Math.abs(x)).toBe(0);
    for (const i of [2, 3]) {
      const pi = softmax(z[i]);
      const want = pi.map((p, k) => (-adv[i] * ratios[i] * ((k === ys[i] ? 1 : 0) - p)) / 4);
      expectClose(g[i][0], want, 1e-5);
    }
  });

  it('a wider upper range (clip-higher) stops clipping the positive-advantage row', async () => {
    const { g, res } = run({ epsilon_high: 0.6 });
    const stats = await readGrpoStats(res);
    expect(stats.loss).toBeCloseTo((-1.5 + 0.8 - 0.5 + 1.5) / 4, 6);
    expect(stats.highClipFraction).toBe(0);
    expect(Math.max(...g[0][0].map(Math.abs))).toBeGreaterThan(1e-3);
  });
});

describe('GRPO aggregation and KL', () => {
  it('the three aggregations against hand values', () => {
    const perTok = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const mask = tf.tensor2d([
      [1, 0, 0],
      [1, 1, 1],
    ]);
    const value = (m: Parameters<typeof aggregate>[2]) => {
      const s = aggregate(perTok, mask, m, 4);
      const v = s.dataSync()[0];
      s.dispose();
      return v;
    };
    expect(value('token-mean')).toBeCloseTo((1 + 4 + 5 + 6) / 4, 6);
    expect(value('seq-mean-token-mean')).toBeCloseTo((1 + 5) / 2, 6);
    expect(value('seq-mean-token-sum-norm')).toBeCloseTo((1 + 15) / 2 / 4, 6);
    tf.dispose([perTok, mask]);
  });

  it('on-policy loss per aggregation, plus the k3 KL term, against a float64 computation', async () => {
    const b = randomBatch(21, 6, 5, 4);
    const ref = randomBatch(22, 6, 5, 4);
    const rewards = [1, 0, 0, 1, 1, 0];
    const A = grpoAdvantages(rewards, 3, 'none');
    const { tok, len } = sequenceLogProbs(b);
    const refTok = ref.logits.map((row, i) => row.map((zz, j) => logSoftmax(zz)[b.targets[i][j]]));
    const k3 = tok.map((row, i) => row.map((lp, j) => Math.exp(refTok[i][j] - lp) - (refTok[i][j] - lp) - 1));
    let klSum = 0;
    let count = 0;
    k3.forEach((row, i) => row.forEach((k, j) => ((klSum += k * b.mask[i][j]), (count += b.mask[i][j]))));
    const beta = 0.05;
    const perTok = (i: number, j: number) => -A[i] + beta * k3[i][j];
    const rowSum = (i: number) => b.mask[i].reduce((a, m, j) => a + m * perTok(i, j), 0);
    const want = {
      'token-mean': [0, 1, 2, 3, 4, 5].reduce((a, i) => a + rowSum(i), 0) / count,
      'seq-mean-token-mean': [0, 1, 2, 3, 4, 5].reduce((a, i) => a + rowSum(i) / len[i], 0) / 6,
      'seq-mean-token-sum-norm': [0, 1, 2, 3, 4, 5].reduce((a, i) => a + rowSum(i), 0) / 6 / 8,
    } as const;
    for (const mode of Object.keys(want) as (keyof typeof want)[]) {
      const t = batchTensors(b);
      const refLogProbs = tf.tensor2d(refTok);
      const res = grpoLoss(
        { ...t, refLogProbs, rewards, groupSize: 3 },
        { scale_rewards: 'none', loss_agg: mode, kl_beta: beta, max_completion_length: 8 },
      );
      const stats = await readGrpoStats(res);
      tf.dispose([res.loss, refLogProbs, t.logits, t.targetIds, t.completionMask]);
      expect(stats.loss, mode).toBeCloseTo(want[mode], 5);
      expect(stats.kl).toBeCloseTo(klSum / count, 5);
      expect(stats.kl).toBeGreaterThan(0);
      expect(stats.clipFraction).toBe(0);
    }
  });

  it('needs reference log-probs when kl_beta > 0, and names bad options', () => {
    const t = batchTensors(randomBatch(23, 4, 3, 4));
    const call = (opts: object) => () => grpoLoss({ ...t, rewards: [1, 0, 1, 0], groupSize: 2 }, opts);
    expect(call({ kl_beta: 0.1 })).toThrow(/refLogProbs/);
    expect(call({ loss_agg: 'sum' })).toThrow(/grpo.loss_agg/);
    expect(call({ scale_rewards: 'global' })).toThrow(/grpo.scale_rewards/);
    expect(call({ epsilon: 1.5 })).toThrow(/grpo.epsilon/);
    const ok = grpoLoss({ ...t, rewards: [1, 0, 1, 0], groupSize: 2 });
    ok.loss.dispose();
    disposeStats(ok.stats);
    tf.dispose([t.logits, t.targetIds, t.completionMask]);
  });
});

describe('GRPO at the sampling temperature', () => {
  it('ratio, KL and entropy read softmax(logits / T): the same loss as logits already divided by T', async () => {
    const T = 1.3;
    const b = randomBatch(9, 8, 5, 6);
    const scaled = { ...b, logits: b.logits.map((r) => r.map((z) => z.map((x) => x / T))) };
    const rewards = [1, 0, 1, 1, 0, 0, 1, 0];
    const ref = tf.tensor2d(sequenceLogProbs(randomBatch(10, 8, 5, 6)).tok);
    const run = async (batch: typeof b, temperature?: number) => {
      const t = batchTensors(batch);
      const res = grpoLoss(
        { ...t, rewards, groupSize: 4, temperature, refLogProbs: ref },
        { kl_beta: 0.01, loss_agg: 'seq-mean-token-mean' },
      );
      const stats = await readGrpoStats(res);
      tf.dispose([res.loss, t]);
      return stats;
    };
    const tempered = await run(b, T);
    const byHand = await run(scaled);
    const raw = await run(b);
    ref.dispose();
    // float32: the division happens in a different place, so the last bits differ.
    expect(tempered.loss).toBeCloseTo(byHand.loss, 5);
    expect(tempered.kl).toBeCloseTo(byHand.kl, 5);
    expect(tempered.entropy).toBeCloseTo(byHand.entropy, 5);
    expect(Math.abs(tempered.kl - raw.kl)).toBeGreaterThan(1e-4);
  });
});
