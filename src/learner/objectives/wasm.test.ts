/**
 * The objectives must train on the wasm backend (no UnsortedSegmentSum there, hence one-hot log-probs): run
 * POPO (sim and KL anchors) and GRPO forward + backward on cpu and on wasm and require the same numbers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';

import { initBackend } from '../backend.js';
import { Predictor } from '../trainer/predictor.js';
import { Rng } from '../util/random.js';
import { grpoLoss, readGrpoStats, type GrpoResult } from './grpo.js';
import { popoLoss, readPopoStats, type PopoResult } from './popo.js';
import { sftLoss } from './sft.js';
import { expectClose, randomBatch } from './test-reference.js';

const N = 8;
const T = 6;
const V = 9;
const H = 5;
const rewards = [1, 0, 1, 1, 0, 0, 0, 1];

interface Run {
  values: number[];
  grads: number[][];
}

function inputs() {
  const b = randomBatch(41, N, T, V);
  const xi = randomBatch(42, N, T, V);
  const rng = new Rng(43);
  const hid = Array.from({ length: N * T * H }, () => rng.normal());
  const sHid = Array.from({ length: N * T * H }, () => rng.normal());
  const old = Array.from({ length: N * T }, () => -2 + 0.5 * rng.normal());
  const ref = Array.from({ length: N * T }, () => -2 + 0.5 * rng.normal());
  return {
    logits: tf.tensor3d(b.logits),
    targetIds: tf.tensor2d(b.targets, [N, T], 'int32'),
    completionMask: tf.tensor2d(b.mask),
    hidden: tf.tensor3d(hid, [N, T, H]),
    siameseHidden: tf.tensor3d(sHid, [N, T, H]),
    siameseLogits: tf.tensor3d(xi.logits),
    oldLogProbs: tf.tensor2d(old, [N, T]),
    refLogProbs: tf.tensor2d(ref, [N, T]),
  };
}

async function runAll(): Promise<Run> {
  const x = inputs();
  const predictor = new Predictor({ inputDim: H, hiddenDim: H, seed: 9 });
  const pv = [...predictor.variables().values()];
  const values: number[] = [];
  const grads: number[][] = [];
  const collect = async (gs: tf.Tensor[]) => {
    for (const g of gs) grads.push(Array.from(await g.data()));
    tf.dispose(gs);
  };

  let popo: PopoResult | undefined;
  const popoGrads = tf.grads((logits: tf.Tensor, hidden: tf.Tensor) => {
    popo = popoLoss(
      {
        ...x,
        logits: logits as tf.Tensor3D,
        hidden: hidden as tf.Tensor3D,
        rewards,
        groupSize: 4,
        predictor,
        noiseSeed: 2,
      },
      { alpha: 0.5, beta: 0.05 },
    );
    return popo.loss;
  })([x.logits, x.hidden]);
  await collect(popoGrads);
  const ps = await readPopoStats(popo as PopoResult);
  values.push(ps.loss, ps.nll, ps.lSim, ps.entropy, ...ps.weights);

  // Predictor parameters receive gradient on this backend too.
  let popo2: PopoResult | undefined;
  const { value, grads: vg } = tf.variableGrads(() => {
    popo2 = popoLoss({ ...x, rewards, groupSize: 4, predictor, noiseSeed: 2 }, { alpha: 0.5, beta: 0.05 });
    return popo2.loss;
  }, pv);
  await collect(pv.map((v) => vg[v.name]));
  value.dispose();
  await readPopoStats(popo2 as PopoResult);

  let kl: PopoResult | undefined;
  const klGrad = tf.grad((logits: tf.Tensor) => {
    kl = popoLoss(
      { ...x, logits: logits as tf.Tensor3D, rewards, groupSize: 4 },
      { alpha: 0.3, anchor: 'kl', nll_norm: 'sequence' },
    );
    return kl.loss;
  })(x.logits);
  await collect([klGrad]);
  values.push((await readPopoStats(kl as PopoResult)).klAnchor);

  let grpo: GrpoResult | undefined;
  const grpoGrad = tf.grad((logits: tf.Tensor) => {
    grpo = grpoLoss(
      { ...x, logits: logits as tf.Tensor3D, rewards, groupSize: 4 },
      { kl_beta: 0.04, epsilon_high: 0.28, loss_agg: 'seq-mean-token-mean' },
    );
    return grpo.loss;
  })(x.logits);
  await collect([grpoGrad]);
  const gs = await readGrpoStats(grpo as GrpoResult);
  values.push(gs.loss, gs.kl, gs.clipFraction, gs.entropy);

  const sftGrad = tf.grad((logits: tf.Tensor) => sftLoss({ ...x, logits: logits as tf.Tensor3D }))(x.logits);
  await collect([sftGrad]);

  predictor.dispose();
  tf.dispose(Object.values(x));
  return { values, grads };
}

describe('objectives on the wasm backend', () => {
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  it('POPO, GRPO and SFT forward + backward match the cpu backend', async () => {
    await initBackend('cpu');
    const cpu = await runAll();
    const info = await initBackend('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.name).toBe('wasm');
    const wasm = await runAll();
    expect(wasm.values.every(Number.isFinite)).toBe(true);
    expectClose(wasm.values, cpu.values, 1e-4);
    expect(wasm.grads).toHaveLength(cpu.grads.length);
    cpu.grads.forEach((g, i) => {
      expect(
        g.some((v) => Math.abs(v) > 1e-6),
        `gradient ${i} is all zero`,
      ).toBe(true);
      expectClose(wasm.grads[i], g, 1e-4);
    });
  });
});
