import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { Predictor } from './predictor.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Predictor h_φ', () => {
  it('has named variables of the right shapes, d defaulting to H', () => {
    const p = new Predictor({ inputDim: 6, seed: 1 });
    const shapes = Object.fromEntries([...p.variables()].map(([k, v]) => [k, v.shape]));
    expect(shapes).toEqual({
      'predictor.fc1.weight': [6, 6],
      'predictor.fc1.bias': [6],
      'predictor.norm.weight': [6],
      'predictor.norm.bias': [6],
      'predictor.fc2.weight': [6, 6],
      'predictor.fc2.bias': [6],
    });
    p.dispose();
  });

  it('computes Linear → LayerNorm → ReLU → Linear (checked by hand)', () => {
    const p = new Predictor({ inputDim: 3, hiddenDim: 4, seed: 2 });
    const get = (k: string) => p.variables().get(`predictor.${k}`) as tf.Variable;
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
    const a = new Predictor({ inputDim: 4, seed: 7 });
    const b = new Predictor({ inputDim: 4, seed: 7 });
    const c = new Predictor({ inputDim: 4, seed: 8 });
    const w = (p: Predictor) => Array.from(p.variables().get('predictor.fc1.weight')!.dataSync());
    expect(w(a)).toEqual(w(b));
    expect(w(a)).not.toEqual(w(c));
    // PyTorch-style init bound 1/sqrt(fan_in).
    expect(Math.max(...w(a).map(Math.abs))).toBeLessThanOrEqual(0.5);
    expect(() => a.apply(tf.zeros([2, 5]) as tf.Tensor2D)).toThrow(/\[N,4\]/);
    [a, b, c].forEach((p) => p.dispose());
  });
});
