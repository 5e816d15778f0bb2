import * as tf from '@tensorflow/tfjs-core';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { initBackend } from '../backend.js';
import { Predictor } from '../trainer/predictor.js';
import { Rng } from '../util/random.js';
import { ObjectiveInputError } from './errors.js';
import { popoLoss, popoWarnings, readPopoStats, type PopoResult } from './popo.js';
import { disposeStats } from './stats.js';
import {
  batchTensors,
  cosine,
  entropy,
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
  // Every test frees what it made; a leak here means a stat tensor or an intermediate escaped.
  expect(tf.memory().numTensors).toBe(before);
});

// 3 groups of 4: group 0 mixed, group 1 all negative, group 2 all positive.
const G = 4;
const REWARDS = [1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1];

describe('POPO importance weights', () => {
  it('softmax over each group’s positives of the length-normalised log-prob; 0 on negatives', async () => {
    const b = randomBatch(1, 12, 6, 7);
    const t = batchTensors(b);
    const res = popoLoss({ ...t, rewards: REWARDS, groupSize: G }, { alpha: 0, beta: 0 });
    const stats = await readPopoStats(res);
    res.loss.dispose();
    tf.dispose(t);

    const { mean } = sequenceLogProbs(b);
    expectClose(stats.seqLogProb, mean);
    const want = new Array<number>(12).fill(0);
    for (let g = 0; g < 3; g++) {
      const idx = [0, 1, 2, 3].map((k) => g * G + k).filter((i) => REWARDS[i] === 1);
      if (idx.length === 0) continue;
      const sm = softmax(idx.map((i) => mean[i]));
      idx.forEach((i, k) => (want[i] = sm[k]));
    }
    expectClose(stats.weights, want);
    // Sum to one per group with positives, zero elsewhere; ordered like the log-probs.
    const groupSums = [0, 1, 2].map((g) => stats.weights.slice(g * G, g * G + G).reduce((a, w) => a + w, 0));
    expect(groupSums[0]).toBeCloseTo(1, 6);
    expect(groupSums[1]).toBe(0);
    expect(groupSums[2]).toBeCloseTo(1, 6);
    REWARDS.forEach((r, i) =>
      r === 0 ? expect(stats.weights[i]).toBe(0) : expect(stats.weights[i]).toBeGreaterThan(0),
    );
    const g2 = [8, 9, 10, 11];
    const byLogProb = [...g2].sort((a, c) => mean[a] - mean[c]);
    const byWeight = [...g2].sort((a, c) => stats.weights[a] - stats.weights[c]);
    expect(byWeight).toEqual(byLogProb);

    expect(stats.numPositive).toBe(6);
    expect(stats.zeroPositiveGroups).toBe(1);
    expect(stats.zeroPositiveFraction).toBeCloseTo(1 / 3, 10);
    expect(stats.meanPositiveSetSize).toBeCloseTo(3, 10);
  });

  it('uniform mode gives 1/|S+| to each positive', async () => {
    const b = randomBatch(2, 12, 5, 7);
    const t = batchTensors(b);
    const res = popoLoss(
      { ...t, rewards: REWARDS, groupSize: G },
      { alpha: 0, beta: 0, weight_mode: 'uniform' },
    );
    const stats = await readPopoStats(res);
    res.loss.dispose();
    tf.dispose(t);
    expectClose(stats.weights, [0.5, 0, 0.5, 0, 0, 0, 0, 0, 0.25, 0.25, 0.25, 0.25]);
  });
});

describe('POPO loss terms against a float64 hand computation', () => {
  it('NLL (tokens and sequence normalisation) and entropy term', async () => {
    const b = randomBatch(3, 12, 6, 5);
    const { sum, mean, len } = sequenceLogProbs(b);
    const w = new Array<number>(12).fill(0);
    for (let g = 0; g < 3; g++) {
      const idx = [0, 1, 2, 3].map((k) => g * G + k).filter((i) => REWARDS[i] === 1);
      if (idx.length) softmax(idx.map((i) => mean[i])).forEach((x, k) => (w[idx[k]] = x));
    }
    const posTokens = REWARDS.reduce((a, r, i) => a + r * len[i], 0);
    const nllTokens = -w.reduce((a, wi, i) => a + wi * sum[i], 0) / posTokens;
    const nllSequence = -w.reduce((a, wi, i) => a + wi * mean[i], 0) / 2; // two groups have positives
    let hSum = 0;
    let hCount = 0;
    b.logits.forEach((row, i) =>
      row.forEach((z, j) => {
        if (b.mask[i][j]) {
          hSum += entropy(z);
          hCount++;
        }
      }),
    );
    const meanH = hSum / hCount;
    const beta = 0.3;

    for (const [norm, nll] of [
      ['tokens', nllTokens],
      ['sequence', nllSequence],
    ] as const) {
      const t = batchTensors(b);
      const res = popoLoss({ ...t, rewards: REWARDS, groupSize: G }, { alpha: 0, beta, nll_norm: norm });
      const lossValue = (await res.loss.data())[0];
      const stats = await readPopoStats(res);
      res.loss.dispose();
      tf.dispose(t);
      expect(stats.nll).toBeCloseTo(nll, 5);
      expect(stats.entropy).toBeCloseTo(meanH, 5);
      expect(stats.lEnt).toBeCloseTo(-meanH, 5);
      expect(lossValue).toBeCloseTo(nll - beta * meanH, 5);
      expect(stats.loss).toBeCloseTo(lossValue, 6);
      expect(stats.positiveTokens).toBe(posTokens);
    }
  });

  it('L_sim: −Σ w·cos(h(f_θ), f_ξ + ε)/Σ w over positives, with masked-mean features', async () => {
    const n = 8;
    const T = 5;
    const H = 4;
    const rewards = [1, 1, 0, 0, 0, 1, 0, 0];
    const b = randomBatch(4, n, T, 6);
    const rng = new Rng(9);
    const hid = Array.from({ length: n }, () =>
      Array.from({ length: T }, () => Array.from({ length: H }, () => rng.normal())),
    );
    const sHid = Array.from({ length: n }, () =>
      Array.from({ length: T }, () => Array.from({ length: H }, () => rng.normal())),
    );
    const eps = Array.from({ length: n }, () => Array.from({ length: H }, () => 0.1 * rng.normal()));
    // A linear "predictor" with a known matrix so the reference can apply it by hand.
    const M = Array.from({ length: H }, () => Array.from({ length: H }, () => rng.normal()));
    const mT = tf.tensor2d(M);
    const predictor = { apply: (f: tf.Tensor2D): tf.Tensor2D => tf.matMul(f, mT) };

    const t = batchTensors(b);
    const hidden = tf.tensor3d(hid);
    const siameseHidden = tf.tensor3d(sHid);
    const noise = tf.tensor2d(eps);
    const res = popoLoss(
      { ...t, rewards, groupSize: 4, hidden, siameseHidden, predictor, noise },
      { alpha: 0.5, beta: 0, anchor: 'sim' },
    );
    const lossValue = (await res.loss.data())[0];
    const stats = await readPopoStats(res);
    tf.dispose([res.loss, hidden, siameseHidden, noise, mT, t.logits, t.targetIds, t.completionMask]);

    const feature = (x: number[][][], i: number) => {
      const len = b.mask[i].reduce((a, m) => a + m, 0);
      return Array.from(
        { length: H },
        (_, k) => x[i].reduce((a, row, j) => a + row[k] * b.mask[i][j], 0) / len,
      );
    };
    let num = 0;
    let den = 0;
    rewards.forEach((r, i) => {
      if (!r) return;
      const f = feature(hid, i);
      const p = Array.from({ length: H }, (_, k) => f.reduce((a, x, m) => a + x * M[m][k], 0));
      const target = feature(sHid, i).map((x, k) => x + eps[i][k]);
      num += stats.weights[i] * cosine(p, target);
      den += stats.weights[i];
    });
    expect(den).toBeCloseTo(2, 6);
    expect(stats.lSim).toBeCloseTo(-num / den, 5);
    expect(lossValue).toBeCloseTo(stats.nll + 0.5 * stats.lSim, 5);
  });

  it('KL anchor: Σ w·mean_t KL(π_θ‖π_ξ)/Σ w', async () => {
    const b = randomBatch(5, 8, 4, 5);
    const xi = randomBatch(6, 8, 4, 5);
    const rewards = [0, 1, 1, 0, 1, 0, 0, 0];
    const t = batchTensors(b);
    const siameseLogits = tf.tensor3d(xi.logits);
    const res = popoLoss(
      { ...t, rewards, groupSize: 4, siameseLogits },
      { alpha: 0.2, beta: 0, anchor: 'kl' },
    );
    const lossValue = (await res.loss.data())[0];
    const stats = await readPopoStats(res);
    tf.dispose([res.loss, siameseLogits, t.logits, t.targetIds, t.completionMask]);
    let num = 0;
    let den = 0;
    rewards.forEach((r, i) => {
      if (!r) return;
      let kl = 0;
      let len = 0;
      b.logits[i].forEach((z, j) => {
        if (!b.mask[i][j]) return;
        const lp = logSoftmax(z);
        const lq = logSoftmax(xi.logits[i][j]);
        kl += lp.reduce((a, x, k) => a + Math.exp(x) * (x - lq[k]), 0);
        len++;
      });
      num += stats.weights[i] * (kl / len);
      den += stats.weights[i];
    });
    expect(stats.klAnchor).toBeCloseTo(num / den, 5);
    expect(stats.klAnchor).toBeGreaterThan(0);
    expect(lossValue).toBeCloseTo(stats.nll + 0.2 * stats.klAnchor, 5);
  });

  it('an all-negative batch gives a zero loss and zero gradient, and is counted', async () => {
    const b = randomBatch(7, 8, 4, 5);
    const logits = tf.tidy(() => tf.variable(tf.tensor3d(b.logits)));
    const targetIds = tf.tensor2d(b.targets, [8, 4], 'int32');
    const completionMask = tf.tensor2d(b.mask);
    let res: PopoResult | undefined;
    const { value, grads } = tf.variableGrads(() => {
      res = popoLoss(
        { logits, targetIds, completionMask, rewards: new Array(8).fill(0), groupSize: 4 },
        { alpha: 0, beta: 0 },
      );
      return res.loss;
    }, [logits]);
    expect(Math.abs(value.dataSync()[0])).toBe(0);
    expect(Math.max(...Array.from(grads[logits.name].dataSync()).map(Math.abs))).toBe(0);
    const stats = await readPopoStats(res as PopoResult);
    expect(stats.zeroPositiveFraction).toBe(1);
    expect(stats.meanPositiveSetSize).toBe(0);
    tf.dispose([value, grads[logits.name], logits, targetIds, completionMask]);
  });
});

describe('POPO gradients and the siamese branch', () => {
  function simSetup(seed: number) {
    const n = 8;
    const T = 4;
    const H = 6;
    const b = randomBatch(seed, n, T, 5);
    const rng = new Rng(seed + 100);
    const rand3 = () =>
      tf.tensor3d(
        Array.from({ length: n * T * H }, () => rng.normal()),
        [n, T, H],
      );
    return { b, n, H, hidden: rand3(), siameseHidden: rand3(), rewards: [1, 0, 1, 1, 0, 0, 1, 0] };
  }

  it('no gradient reaches the siamese hidden states (stop-gradient target), θ’s do get one', async () => {
    const { b, H, hidden, siameseHidden, rewards } = simSetup(11);
    const predictor = new Predictor({ inputDim: H, hiddenDim: H, seed: 3 });
    const t = batchTensors(b);
    let res: PopoResult | undefined;
    const [gHidden, gSiamese] = tf.grads((h: tf.Tensor, s: tf.Tensor) => {
      res = popoLoss(
        {
          ...t,
          rewards,
          groupSize: 4,
          hidden: h as tf.Tensor3D,
          siameseHidden: s as tf.Tensor3D,
          predictor,
          noiseSeed: 5,
        },
        { alpha: 1, beta: 0 },
      );
      return res.loss;
    })([hidden, siameseHidden]);
    const maxAbs = (x: tf.Tensor) => Math.max(...Array.from(x.dataSync()).map(Math.abs));
    expect(maxAbs(gSiamese)).toBe(0);
    expect(maxAbs(gHidden)).toBeGreaterThan(1e-6);
    disposeStats((res as PopoResult).stats);
    tf.dispose([gHidden, gSiamese, hidden, siameseHidden, t.logits, t.targetIds, t.completionMask]);
    predictor.dispose();
  });

  it('an optimizer step on the POPO loss with α > 0 moves the predictor’s parameters', async () => {
    const { b, H, hidden, siameseHidden, rewards } = simSetup(12);
    const predictor = new Predictor({ inputDim: H, hiddenDim: H, seed: 4 });
    const snapshot = new Map([...predictor.variables()].map(([k, v]) => [k, Array.from(v.dataSync())]));
    const t = batchTensors(b);
    const optimizer = tf.train.sgd(0.5);
    let res: PopoResult | undefined;
    optimizer.minimize(() => {
      res = popoLoss(
        { ...t, rewards, groupSize: 4, hidden, siameseHidden, predictor, noiseSeed: 1 },
        { alpha: 1, beta: 0.01 },
      );
      return res.loss;
    });
    const stats = await readPopoStats(res as PopoResult);
    expect(Number.isFinite(stats.loss)).toBe(true);
    for (const [name, v] of predictor.variables()) {
      const moved = Math.max(
        ...Array.from(v.dataSync()).map((x, i) => Math.abs(x - (snapshot.get(name) as number[])[i])),
      );
      expect(moved, name).toBeGreaterThan(1e-7);
    }
    optimizer.dispose();
    predictor.dispose();
    tf.dispose([hidden, siameseHidden, t.logits, t.targetIds, t.completionMask]);
  });

  it('seeded noise is reproducible and changes the target', async () => {
    const { b, H, hidden, siameseHidden, rewards } = simSetup(13);
    const predictor = new Predictor({ inputDim: H, hiddenDim: H, seed: 5 });
    const t = batchTensors(b);
    const lSim = async (opts: { noiseSeed?: number; sigma: number }) => {
      const res = popoLoss(
        { ...t, rewards, groupSize: 4, hidden, siameseHidden, predictor, noiseSeed: opts.noiseSeed },
        { alpha: 1, beta: 0, sigma: opts.sigma },
      );
      res.loss.dispose();
      return (await readPopoStats(res)).lSim;
    };
    const a = await lSim({ noiseSeed: 1, sigma: 0.5 });
    expect(await lSim({ noiseSeed: 1, sigma: 0.5 })).toBe(a);
    expect(await lSim({ noiseSeed: 2, sigma: 0.5 })).not.toBeCloseTo(a, 6);
    const clean = await lSim({ sigma: 0 });
    expect(clean).not.toBeCloseTo(a, 6);
    predictor.dispose();
    tf.dispose([hidden, siameseHidden, t.logits, t.targetIds, t.completionMask]);
  });
});

describe('POPO input validation and warnings', () => {
  it('names the bad field', () => {
    const b = randomBatch(8, 8, 4, 5);
    const t = batchTensors(b);
    const floatIds = tf.zeros([8, 4]);
    const call =
      (extra: object, opts: object = {}) =>
      () =>
        popoLoss({ ...t, rewards: new Array(8).fill(1), groupSize: 4, ...extra }, { alpha: 0, ...opts });
    expect(call({ rewards: [1, 0] })).toThrow(/rewards/);
    expect(call({ groupSize: 3 })).toThrow(/groupSize/);
    expect(call({ targetIds: floatIds })).toThrow(/targetIds.*int32/);
    expect(call({}, { weight_mode: 'max' })).toThrow(/popo.weight_mode/);
    expect(call({}, { beta: -1 })).toThrow(/popo.beta/);
    expect(call({}, { alpha: 0.1 })).toThrow(/hidden/);
    expect(call({}, { alpha: 0.1, anchor: 'kl' })).toThrow(/siameseLogits/);
    try {
      call({ rewards: [1] })();
    } catch (err) {
      expect(err).toBeInstanceOf(ObjectiveInputError);
      expect((err as ObjectiveInputError).field).toBe('rewards');
    }
    tf.dispose([t.logits, t.targetIds, t.completionMask, floatIds]);
  });

  it('flags zero-positive dominance and entropy collapse', () => {
    expect(popoWarnings({ zeroPositiveFraction: 0.2, entropy: 1 })).toEqual([]);
    expect(popoWarnings({ zeroPositiveFraction: 0.8, entropy: 1 }).map((w) => w.code)).toEqual([
      'zero_positive_dominates',
    ]);
    expect(popoWarnings({ zeroPositiveFraction: 0, entropy: 0.01 }).map((w) => w.code)).toEqual([
      'entropy_collapse',
    ]);
    expect(popoWarnings({ zeroPositiveFraction: 0, entropy: 0.3 }, { minEntropy: 0.5 })).toHaveLength(1);
  });
});

describe('POPO at the sampling temperature', () => {
  it('NLL, weights, entropy and their gradient read softmax(logits / T), as the authors and TRL', async () => {
    const T = 0.7;
    const b = randomBatch(5, 8, 5, 6);
    const scaled = { ...b, logits: b.logits.map((r) => r.map((z) => z.map((x) => x / T))) };
    const rewards = [1, 0, 1, 1, 0, 0, 1, 0];
    const run = async (batch: typeof b, temperature?: number) => {
      const t = batchTensors(batch);
      let res: ReturnType<typeof popoLoss> | undefined;
      const grad = tf.grad((x: tf.Tensor) => {
        res = popoLoss(
          { ...t, logits: x as tf.Tensor3D, rewards, groupSize: 4, temperature },
          { alpha: 0, beta: 0.05 },
        );
        return res.loss;
      })(t.logits);
      const stats = await readPopoStats(res!);
      const g = Array.from(grad.dataSync());
      tf.dispose([grad, t]);
      return { stats, g };
    };
    const tempered = await run(b, T);
    const byHand = await run(scaled);
    const raw = await run(b);
    expect(tempered.stats.nll).toBeCloseTo(byHand.stats.nll, 5);
    expect(tempered.stats.entropy).toBeCloseTo(byHand.stats.entropy, 5);
    expectClose(tempered.stats.weights, byHand.stats.weights);
    // d/dz f(z/T) = f'(z/T) / T.
    expectClose(
      tempered.g,
      byHand.g.map((x) => x / T),
    );
    // And it is not the T = 1 loss: the temperature is really applied.
    expect(Math.abs(tempered.stats.nll - raw.stats.nll)).toBeGreaterThan(1e-3);
    expect(() =>
      tf.tidy(() => {
        const t = batchTensors(b);
        popoLoss({ ...t, rewards, groupSize: 4, temperature: 0 }, { alpha: 0 });
      }),
    ).toThrow(/temperature/);
  });
});
