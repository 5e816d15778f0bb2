import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';

import { Rng } from '../util/random.js';
import { DriftBoundTracker, driftBound, emaUpdate, paramDistance } from './ema.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const variable = (values: number[], shape: number[]) => tf.tidy(() => tf.variable(tf.tensor(values, shape)));

describe('emaUpdate', () => {
  it('ξ ← τξ + (1−τ)θ in place, exactly as by hand', async () => {
    const xi = [variable([1, 2, 3, 4], [2, 2]), variable([-1], [1])];
    const theta = [variable([5, 6, 7, 8], [2, 2]), variable([3], [1])];
    const before = tf.memory().numTensors;
    emaUpdate(xi, theta, 0.9);
    expect(tf.memory().numTensors).toBe(before);
    const want0 = [1, 2, 3, 4].map((x, i) => 0.9 * x + 0.1 * [5, 6, 7, 8][i]);
    Array.from(xi[0].dataSync()).forEach((x, i) => expect(x).toBeCloseTo(want0[i], 6));
    expect(xi[1].dataSync()[0]).toBeCloseTo(0.9 * -1 + 0.1 * 3, 6);
    // θ is untouched.
    expect(Array.from(theta[0].dataSync())).toEqual([5, 6, 7, 8]);
    emaUpdate(xi, theta, 0);
    expect(Array.from(xi[0].dataSync())).toEqual([5, 6, 7, 8]);
    tf.dispose([...xi, ...theta]);
  });

  it('τ = 1 freezes ξ; mismatched lists and bad τ are rejected', async () => {
    const xi = [variable([1, 2], [2])];
    const theta = [variable([9, 9], [2])];
    emaUpdate(xi, theta, 1);
    expect(Array.from(xi[0].dataSync())).toEqual([1, 2]);
    expect(() => emaUpdate(xi, [], 0.5)).toThrow(/1 target tensors but 0/);
    const wrong = variable([1, 2, 3], [3]);
    expect(() => emaUpdate(xi, [wrong], 0.5)).toThrow(/shape/);
    expect(() => emaUpdate(xi, theta, 1.5)).toThrow(/tau/);
    tf.dispose([...xi, ...theta, wrong]);
  });
});

describe('paramDistance and the Lemma 3.2 bound', () => {
  it('global L2 norm of the difference over all tensors', async () => {
    const a = [tf.tensor1d([1, 2]), tf.tensor2d([[3]])];
    const b = [tf.tensor1d([4, 6]), tf.tensor2d([[3 + 12]])];
    expect(await paramDistance(a, b)).toBeCloseTo(Math.sqrt(9 + 16 + 144), 5);
    tf.dispose([...a, ...b]);
  });

  it('driftBound = τηG/(1−τ); infinite when ξ is frozen', async () => {
    expect(driftBound(0.99, 0.01, 2)).toBeCloseTo((0.99 * 0.01 * 2) / 0.01, 10);
    expect(driftBound(1, 0.01, 2)).toBe(Number.POSITIVE_INFINITY);
  });

  it('the drift ‖θ − ξ‖ never exceeds the running bound, and approaches it for aligned steps', async () => {
    const tau = 0.9;
    const rng = new Rng(3);
    const theta = variable([0, 0, 0, 0], [4]);
    const xi = variable([0, 0, 0, 0], [4]);
    const tracker = new DriftBoundTracker(tau);
    // Random steps of random size, then a long run of identical steps (the worst case).
    const steps: number[][] = [];
    for (let i = 0; i < 30; i++) steps.push([0, 1, 2, 3].map(() => rng.normal() * rng.next()));
    for (let i = 0; i < 200; i++) steps.push([0.3, -0.4, 0, 0]); // norm 0.5
    let drift = 0;
    for (const step of steps) {
      const prev = tf.clone(theta);
      tf.tidy(() => theta.assign(tf.add(theta, tf.tensor1d(step))));
      const update = await paramDistance([theta], [prev]);
      prev.dispose();
      emaUpdate([xi], [theta], tau);
      const bound = tracker.observe(update);
      drift = await paramDistance([theta], [xi]);
      expect(drift).toBeLessThanOrEqual(bound + 1e-5);
    }
    expect(tracker.maxUpdateNorm).toBeGreaterThanOrEqual(0.5);
    // For constant steps of norm 0.5 the drift converges to τ·0.5/(1−τ) = 4.5, the lemma's bound for G = 0.5.
    expect(drift).toBeCloseTo((tau * 0.5) / (1 - tau), 3);
    tf.dispose([theta, xi]);
  });
});
