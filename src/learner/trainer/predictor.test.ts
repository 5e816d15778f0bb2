import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { Predictor } from './predictor.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Predictor h_φ', () => {
  it('has named variables of the right shapes: [H,d], [d], [d], [d], [d,H], [H]', () => {
    const p = new Predictor({ inputDim: 6, hiddenDim: 10, seed: 1 });
    const shapes = Object.fromEntries([...p.variables()].map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      'predictor.fc1.weight': [6, 10],
      'predictor.fc1.bias': [10],
      'predictor.norm.weight': [10],
      'predictor.norm.bias': [10],
      'predictor.fc2.weight': [10, 6],
      'predictor.fc2.bias': [6],
    });
    p.dispose();
  });

  it("is initialised as the authors' PredictorMLP: Xavier-uniform weights, zero biases, LayerNorm 1 and 0", () => {
    const h = 48;
    const d = 1024;
    const p = new Predictor({ inputDim: h, hiddenDim: d, seed: 3 });
    const data = (k: string) => Array.from(p.variables().get(`predictor.${k}`)!.dataSync());
    const bound = Math.sqrt(6 / (h + d));
    for (const k of ['fc1.weight', 'fc2.weight']) {
      const w = data(k);
      expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
      // U(±b) has variance b²/3 = 2/(fan_in + fan_out): the Glorot variance (49 152 draws: within 3%).
      const variance = w.reduce((a, x) => a + x * x, 0) / w.length;
      expect(variance).toBeGreaterThan(0.97 * (2 / (h + d)));
      expect(variance).toBeLessThan(1.03 * (2 / (h + d)));
    }
    for (const k of ['fc1.bias', 'fc2.bias', 'norm.bias']) expect(data(k).every((x) => x === 0)).toBe(true);
    expect(data('norm.weight').every((x) => x === 1)).toBe(true);
    p.dispose();
  });

  it('computes Linear → LayerNorm → ReLU → Linear (checked by hand)', () => {
    const p = new Predictor({ inputDim: 3, hiddenDim: 4, seed: 2 });
    const get = (k: string) => p.variables().get(`predictor.${k}`) as tf.Variable;
    // Biases start at 0; non-zero ones so the check covers them.
    tf.tidy(() => get('fc1.bias').assign(tf.tensor1d([0.3, -0.1, 0.2, 0.05])));
    tf.tidy(() => get('fc2.bias').assign(tf.tensor1d([-0.2, 0.4, 0.1])));
    const W1 = get('fc1.weight').arraySync() as number[][];
    const b1 = get('fc1.bias').arraySync() as number[];
    const W2 = get('fc2.weight').arraySync() as number[][];
    const b2 = get('fc2.bias').arraySync() as number[];
    // A non-trivial LayerNorm affine, so its parameters are exercised too.
    tf.tidy(() => get('norm.weight').assign(tf.tensor1d([1, 2, 0.5, -1])));
    tf.tidy(() => get('norm.bias').assign(tf.tensor1d([0.1, -0.2, 0.3, 0])));
    const gamma = [1, 2, 0.5, -1];
    const beta = [0.1, -0.2, 0.3, 0];
    const f = [
      [0.5, -1, 2],
      [3, 0.2, -0.7],
    ];
    const x = tf.tensor2d(f);
    const out = p.apply(x);
    const got = out.arraySync();
    const want = f.map((row) => {
      const h = b1.map((b, j) => b + row.reduce((a, v, i) => a + v * W1[i][j], 0));
      const mean = h.reduce((a, v) => a + v, 0) / h.length;
      const varc = h.reduce((a, v) => a + (v - mean) ** 2, 0) / h.length;
      const ln = h.map((v, j) => ((v - mean) / Math.sqrt(varc + 1e-5)) * gamma[j] + beta[j]);
      const r = ln.map((v) => Math.max(0, v));
      return b2.map((b, k) => b + r.reduce((a, v, j) => a + v * W2[j][k], 0));
    });
    got.forEach((row, i) => row.forEach((v, k) => expect(v).toBeCloseTo(want[i][k], 5)));
    tf.dispose([x, out]);
    p.dispose();
  });

  it('is deterministic for a seed, differs across seeds, and two instances coexist', () => {
    const a = new Predictor({ inputDim: 4, hiddenDim: 4, seed: 7 });
    const b = new Predictor({ inputDim: 4, hiddenDim: 4, seed: 7 });
    const c = new Predictor({ inputDim: 4, hiddenDim: 4, seed: 8 });
    const w = (p: Predictor) => Array.from(p.variables().get('predictor.fc1.weight')!.dataSync());
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    // Xavier bound sqrt(6 / (4 + 4)).
    expect(Math.max(...w(a).map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / 8));
    expect(() => a.apply(tf.zeros([2, 5]) as tf.Tensor2D)).toThrow(/\[N,4\]/);
    [a, b, c].forEach((p) => p.dispose());
  });
});
