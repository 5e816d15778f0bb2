import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { applyRope, rmsNorm, ropeTables, rotationMatrices, swiglu } from '../model/ops.js';
import { Rng } from '../util/random.js';
import { fusedKernels } from './fused.js';

/**
 * The fused wasm kernels (RMSNorm, SwiGLU, rotary) against the composite tfjs ops they replace, on wasm
 * (POPO_FUSED=0 switches the same process to the composites) and on the cpu backend: values and gradients.
 */
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

type Probe = () => Float32Array[];

function close(a: Float32Array[], b: Float32Array[], tol: number): void {
  expect(a).toHaveLength(b.length);
  a.forEach((x, k) => {
    let scale = 1e-6;
    let diff = 0;
    for (let i = 0; i < x.length; i++) {
      scale = Math.max(scale, Math.abs(b[k][i]));
      diff = Math.max(diff, Math.abs(x[i] - b[k][i]));
    }
    expect(x.length).toBe(b[k].length);
    expect(diff / scale, `output ${k}`).toBeLessThan(tol);
  });
}

/** Runs `probe` fused on wasm, composite on wasm and on cpu; all must agree. */
async function compare(probe: Probe, tol = 1e-5): Promise<void> {
  await initBackend('wasm');
  expect(fusedKernels()).toBe(true);
  const fused = probe();
  process.env.POPO_FUSED = '0';
  let composite: Float32Array[];
  try {
    expect(fusedKernels()).toBe(false);
    composite = probe();
  } finally {
    delete process.env.POPO_FUSED;
  }
  await initBackend('cpu');
  const cpu = probe();
  close(fused, composite, tol);
  close(fused, cpu, tol);
}

function tensors(seed: number, shapes: number[][]): tf.Tensor[] {
  const rng = new Rng(seed);
  return shapes.map((s) => tf.tensor(rng.normalArray(size(s)), s));
}

/** Value and input gradients of sum(f(inputs) ⊙ probe). */
function valueAndGrads(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  seed: number,
): Float32Array[] {
  const y = f(...inputs);
  const [probe] = tensors(seed, [y.shape]);
  const grads = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), probe)))(inputs);
  return [y, ...grads].map((t) => t.dataSync() as Float32Array);
}

describe('fused wasm kernels', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(async () => {
    delete process.env.POPO_FUSED;
    await initBackend('cpu');
  });

  it('RMSNorm (rank 2 and 3) matches the composite, values and gradients for x and the weight', async () => {
    for (const shape of [
      [7, 16],
      [2, 5, 24],
    ]) {
      await compare(() =>
        tf.tidy(() => {
          const [x, w] = tensors(1, [shape, [shape[shape.length - 1]]]);
          return valueAndGrads((a, b) => rmsNorm(a, b as tf.Tensor1D, 1e-6), [x, w], 2);
        }),
      );
    }
  });

  it('SwiGLU matches silu(gate)·up, values and gradients', async () => {
    await compare(() =>
      tf.tidy(() => {
        const [g, u] = tensors(3, [
          [9, 20],
          [9, 20],
        ]);
        return valueAndGrads((a, b) => swiglu(a, b), [tf.mul(g, 3), u], 4);
      }),
    );
  });

  it('rotary embedding matches the rotate_half composite, values and gradients, with left-padding positions', async () => {
    await compare(() =>
      tf.tidy(() => {
        const [B, T, h, d] = [2, 5, 3, 8];
        const positions = tf.tensor2d(
          [
            [0, 0, 0, 1, 2],
            [0, 1, 2, 3, 4],
          ],
          [B, T],
        );
        const invFreq = tf.tensor1d([1, 0.3, 0.1, 0.01]);
        const { cos, sin } = ropeTables(positions, invFreq);
        const rot = rotationMatrices(d);
        const [x] = tensors(5, [[B, T, h, d]]);
        return valueAndGrads((a) => applyRope(a as tf.Tensor4D, cos, sin, rot), [x], 6);
      }),
    );
  });
});
