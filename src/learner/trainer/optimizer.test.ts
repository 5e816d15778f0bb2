import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from './config.js';
import { AdamW, globalNorm, learningRate, warmupSteps } from './optimizer.js';
import { passAtK } from './pass-at-k.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const opts = { ...DEFAULT_CONFIG.optimizer, lr: 0.1, weight_decay: 0, clip_grad_norm: 0 };

describe('AdamW', () => {
  it('matches a hand-computed Adam step, with decoupled decay on matrices only', async () => {
    const w = tf.variable(tf.tensor2d([[1, -2]]));
    const b = tf.variable(tf.tensor1d([3]));
    const adam = new AdamW(
      new Map<string, tf.Variable>([
        ['w', w],
        ['b', b],
      ]),
      { ...opts, weight_decay: 0.5 },
    );
    await adam.apply(
      new Map<string, tf.Tensor>([
        ['w', tf.tensor2d([[0.5, -1]])],
        ['b', tf.tensor1d([2])],
      ]),
      0.1,
    );
    // First step: m̂ = g, v̂ = g², so the update is g/(|g|+eps) ≈ sign(g); decay adds wd·p for the matrix.
    const e = 1e-8;
    expect(w.dataSync()[0]).toBeCloseTo(1 - 0.1 * (0.5 / (0.5 + e) + 0.5 * 1), 6);
    expect(w.dataSync()[1]).toBeCloseTo(-2 - 0.1 * (-1 / (1 + e) + 0.5 * -2), 6);
    expect(b.dataSync()[0]).toBeCloseTo(3 - 0.1, 6);
    // Second step with the same gradient, by the textbook recurrences.
    await adam.apply(new Map([['b', tf.tensor1d([2])]]), 0.1);
    const m = 0.9 * (0.1 * 2) + 0.1 * 2;
    const v = 0.999 * (0.001 * 4) + 0.001 * 4;
    const upd = m / (1 - 0.9 ** 2) / (Math.sqrt(v / (1 - 0.999 ** 2)) + e);
    expect(b.dataSync()[0]).toBeCloseTo(3 - 0.1 - 0.1 * upd, 6);
  });

  it('clips by global norm and reports the norm before clipping', async () => {
    const p = tf.variable(tf.tensor1d([0, 0]));
    const adam = new AdamW(new Map([['p', p]]), { ...opts, clip_grad_norm: 1, beta1: 0, beta2: 0 });
    const { gradNorm, updateNorm } = await adam.apply(new Map([['p', tf.tensor1d([3, 4])]]), 1);
    expect(gradNorm).toBeCloseTo(5, 5);
    // β1 = β2 = 0: the update is g/|g| elementwise, so its norm is √2 whatever the clipping.
    expect(updateNorm).toBeCloseTo(Math.SQRT2, 4);
    expect(Array.from(p.dataSync()).map((x) => Math.round(x * 1e4) / 1e4)).toEqual([-1, -1]);
    expect(await globalNorm([tf.tensor1d([3, 4]), tf.tensor1d([12])])).toBeCloseTo(13, 5);
  });

  it('restores its moments exactly', async () => {
    const mk = () => tf.variable(tf.tensor1d([1, 2]));
    const p1 = mk();
    const a1 = new AdamW(new Map([['p', p1]]), opts);
    await a1.apply(new Map([['p', tf.tensor1d([1, -1])]]), 0.1);
    const p2 = tf.variable(p1.clone());
    const a2 = new AdamW(new Map([['p', p2]]), opts);
    a2.loadState(a1.stateTensors(), a1.stepCount);
    await a1.apply(new Map([['p', tf.tensor1d([0.3, 0.2])]]), 0.1);
    await a2.apply(new Map([['p', tf.tensor1d([0.3, 0.2])]]), 0.1);
    expect(Array.from(p2.dataSync())).toEqual(Array.from(p1.dataSync()));
  });
});

describe('learningRate', () => {
  it('warms up linearly then follows the schedule', async () => {
    const p = { ...opts, lr: 1, warmup_steps: 4, schedule: 'cosine' as const };
    expect(learningRate(p, 1, 104)).toBeCloseTo(0.25);
    expect(learningRate(p, 4, 104)).toBeCloseTo(1);
    expect(learningRate(p, 54, 104)).toBeCloseTo(0.5);
    expect(learningRate(p, 104, 104)).toBeCloseTo(0);
    expect(learningRate({ ...p, schedule: 'constant' }, 90, 104)).toBe(1);
  });

  it("warmup_ratio warms up over ceil(ratio × steps) steps, then cosine: Hugging Face's schedule one step later", () => {
    // The authors' trainer defaults: warmup_ratio 0.1, cosine, over 1500 steps → 150 warm-up steps.
    const p = { ...opts, lr: 1e-7, warmup_ratio: 0.1, schedule: 'cosine' as const };
    expect(warmupSteps(p, 1500)).toBe(150);
    expect(warmupSteps(p, 1001)).toBe(101); // ceil, as transformers' get_warmup_steps
    expect(warmupSteps({ ...p, warmup_steps: 7 }, 1500)).toBe(7);
    // transformers' lr_lambda(s) for get_cosine_schedule_with_warmup, at the 0-based step s.
    const hf = (s: number, total: number, warm: number) =>
      s < warm
        ? s / Math.max(1, warm)
        : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((s - warm) / Math.max(1, total - warm)))));
    for (const step of [1, 75, 150, 151, 600, 1499, 1500])
      expect(learningRate(p, step, 1500)).toBeCloseTo(1e-7 * hf(step, 1500, 150), 20);
    expect(learningRate(p, 150, 1500)).toBeCloseTo(1e-7, 20);
    expect(learningRate(p, 1500, 1500)).toBeCloseTo(0, 20);
  });
});

describe('passAtK', () => {
  const choose = (n: number, k: number): number =>
    k < 0 || k > n ? 0 : k === 0 ? 1 : (choose(n - 1, k - 1) * n) / k;
  it('equals 1 − C(n−c,k)/C(n,k)', async () => {
    for (const [n, c, k] of [
      [10, 3, 1],
      [10, 3, 5],
      [16, 0, 4],
      [8, 8, 2],
      [20, 1, 10],
    ]) {
      expect(passAtK(n, c, k)).toBeCloseTo(1 - choose(n - c, k) / choose(n, k), 10);
    }
    expect(passAtK(4, 1, 1)).toBeCloseTo(0.25);
  });
});
