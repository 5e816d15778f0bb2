import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { applyRope, embeddingLookup, rmsNorm, ropeTables, rotationMatrices, swiglu } from '../model/ops.js';
import { AdamW } from '../trainer/optimizer.js';
import { Rng } from '../util/random.js';
import { fusedKernels } from './fused.js';

/**
 * The fused wasm kernels (RMSNorm, SwiGLU, rotary, embedding rows, AdamW; SIMD in simd.wat) against the composite
 * tfjs ops they replace, on wasm (POPO_FUSED=0 switches the same process to the composites) and on the cpu
 * backend: values and gradients.
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
    // [3, 6]: a width the SIMD kernel does not take (not a multiple of 4) goes to the composite ops.
    for (const shape of [
      [7, 16],
      [2, 5, 24],
      [3, 6],
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

  it('SwiGLU stays finite and exact at the ends of the SIMD exponential (|gate| up to 1000)', async () => {
    await compare(() =>
      tf.tidy(() => {
        const ends = [-1000, -100, -88, -87.5, -30, -1e-3, 0, 1e-3, 30, 87.5, 88, 100, 1000, -5, 5, 0.5];
        const g = tf.tensor2d(ends, [4, 4]);
        const [u] = tensors(15, [[4, 4]]);
        const out = valueAndGrads((a, b) => swiglu(a, b), [g, u], 16);
        for (const o of out) expect(o.every(Number.isFinite)).toBe(true);
        return out;
      }),
    );
  });

  it('SwiGLU with a size the SIMD kernel does not take (not a multiple of 4) still matches', async () => {
    await compare(() =>
      tf.tidy(() => {
        const [g, u] = tensors(13, [
          [3, 5],
          [3, 5],
        ]);
        return valueAndGrads((a, b) => swiglu(a, b), [g, u], 14);
      }),
    );
  });

  it('embedding rows match tf.gather, values and the scatter-add gradient (repeated ids)', async () => {
    await compare(() =>
      tf.tidy(() => {
        const [table] = tensors(7, [[11, 12]]);
        const ids = tf.tensor1d([3, 0, 10, 3, 3, 7], 'int32');
        return valueAndGrads((t) => embeddingLookup(t as tf.Tensor2D, ids), [table], 8);
      }),
    );
  });

  it('an AdamW step is bit-identical to the composite ops (clipping, decay, sizes not a multiple of 4)', async () => {
    const run = async () => {
      const rng = new Rng(9);
      const params = new Map<string, tf.Variable>([
        ['w', tf.variable(tf.tensor(rng.normalArray(6 * 7), [6, 7]), true, `adam_test_w_${Math.random()}`)],
        ['b', tf.variable(tf.tensor(rng.normalArray(5), [5]), true, `adam_test_b_${Math.random()}`)],
        ['e', tf.variable(tf.tensor(rng.normalArray(64), [16, 4]), true, `adam_test_e_${Math.random()}`)],
      ]);
      const opt = new AdamW(params, {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.99,
        eps: 1e-8,
        weight_decay: 0.1,
        clip_grad_norm: 1,
      } as ConstructorParameters<typeof AdamW>[1]);
      const norms: number[] = [];
      for (let step = 0; step < 3; step++) {
        const grads = new Map([...params].map(([k, p]) => [k, tf.tensor(rng.normalArray(p.size), p.shape)]));
        const r = await opt.apply(grads, 1e-2 * (step + 1));
        norms.push(r.gradNorm, r.updateNorm);
        tf.dispose([...grads.values()]);
      }
      const out = [...params.values(), ...opt.stateTensors().values()].map(
        (t) => t.dataSync() as Float32Array,
      );
      tf.dispose([...params.values(), ...opt.stateTensors().values()]);
      return { out, norms };
    };
    await initBackend('wasm');
    expect(fusedKernels()).toBe(true);
    const fused = await run();
    process.env.POPO_FUSED = '0';
    try {
      const composite = await run();
      fused.out.forEach((a, k) => expect(Array.from(a), `tensor ${k}`).toEqual(Array.from(composite.out[k])));
      fused.norms.forEach((n, k) => expect(n).toBeCloseTo(composite.norms[k], 5));
    } finally {
      delete process.env.POPO_FUSED;
    }
  });
});

describe('simd-binary.ts', () => {
  it('is exactly what simd.wat assembles to', () => {
    const r = spawnSync(process.execPath, ['scripts/build-simd.mjs', '--check'], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('up to date');
    expect(r.status).toBe(0);
  });
});
