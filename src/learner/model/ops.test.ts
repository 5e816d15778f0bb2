import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { Rng } from '../util/random.js';
import { applyRope, embeddingLookup, matmul, matmulNT, ropeTables, rotationMatrices } from './ops.js';

const rng = new Rng(11);
const randn = (shape: number[]) => tf.tensor(rng.normalArray(shape.reduce((a, b) => a * b, 1)), shape);

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Gradients of sum(f(x, y) * probe) w.r.t. both inputs. */
function grads2(
  f: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  y: tf.Tensor,
  probe: tf.Tensor,
): tf.Tensor[] {
  return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), probe)))([x, y]);
}

describe.each(['cpu', 'wasm'] as const)('ops on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('matmul gives tf.matMul values and gradients (2-D and batched 4-D)', () => {
    for (const [as, bs] of [
      [
        [5, 7],
        [7, 3],
      ],
      [
        [2, 3, 4, 6],
        [2, 3, 6, 5],
      ],
    ]) {
      tf.tidy(() => {
        const a = randn(as);
        const b = randn(bs);
        const probe = randn([...as.slice(0, -1), bs[bs.length - 1]]);
        expect(maxAbsDiff(matmul(a, b), tf.matMul(a, b))).toBeLessThan(1e-5);
        const mine = grads2((x, y) => matmul(x, y), a, b, probe);
        const ref = grads2((x, y) => tf.matMul(x, y), a, b, probe);
        expect(maxAbsDiff(mine[0], ref[0])).toBeLessThan(1e-4);
        expect(maxAbsDiff(mine[1], ref[1])).toBeLessThan(1e-4);
      });
    }
  });

  it('matmulNT gives a·bᵀ and its gradients', () => {
    tf.tidy(() => {
      const a = randn([2, 3, 4, 6]);
      const b = randn([2, 3, 5, 6]);
      const probe = randn([2, 3, 4, 5]);
      const ref = (x: tf.Tensor, y: tf.Tensor) => tf.matMul(x, tf.transpose(y, [0, 1, 3, 2]));
      expect(maxAbsDiff(matmulNT(a, b), ref(a, b))).toBeLessThan(1e-5);
      const mine = grads2((x, y) => matmulNT(x, y), a, b, probe);
      const expected = grads2(ref, a, b, probe);
      expect(maxAbsDiff(mine[0], expected[0])).toBeLessThan(1e-4);
      expect(maxAbsDiff(mine[1], expected[1])).toBeLessThan(1e-4);
    });
  });

  it('embedding lookup gathers rows and scatter-adds repeated ids in the gradient', () => {
    tf.tidy(() => {
      const table = randn([6, 4]);
      const ids = tf.tensor1d([2, 5, 2, 0], 'int32');
      const probe = randn([4, 4]);
      const out = embeddingLookup(table as tf.Tensor2D, ids);
      expect(out.arraySync()).toEqual(tf.gather(table, ids).arraySync());
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embeddingLookup(t as tf.Tensor2D, ids), probe)))(
        table,
      );
      const p = probe.arraySync() as number[][];
      const expected = Array.from({ length: 6 }, (_, v) =>
        Array.from({ length: 4 }, (_, j) =>
          [2, 5, 2, 0].reduce((s, id, i) => s + (id === v ? p[i][j] : 0), 0),
        ),
      );
      const got = g.arraySync() as number[][];
      for (let v = 0; v < 6; v++)
        for (let j = 0; j < 4; j++) expect(got[v][j]).toBeCloseTo(expected[v][j], 5);
    });
  });

  it('embedding lookup rejects ids outside the vocabulary', () => {
    const table = tf.zeros([6, 4]) as tf.Tensor2D;
    const ids = tf.tensor1d([1, 6], 'int32');
    expect(() => embeddingLookup(table, ids)).toThrow(/6/);
    tf.dispose([table, ids]);
  });

  it('rope matches the HF rotate_half formula, including its gradient', () => {
    tf.tidy(() => {
      const d = 8;
      const x = randn([2, 3, 2, d]) as tf.Tensor4D;
      const positions = tf.tensor2d([
        [0, 1, 2],
        [0, 0, 5],
      ]);
      const invFreq = tf.tensor1d([1, 0.1, 0.01, 0.001]);
      const { cos, sin } = ropeTables(positions, invFreq);
      const rot = rotationMatrices(d);
      const reference = (v: tf.Tensor) => {
        const x1 = tf.slice(v, [0, 0, 0, 0], [-1, -1, -1, d / 2]);
        const x2 = tf.slice(v, [0, 0, 0, d / 2], [-1, -1, -1, d / 2]);
        return tf.add(tf.mul(v, cos), tf.mul(tf.concat([tf.neg(x2), x1], 3), sin));
      };
      expect(maxAbsDiff(applyRope(x, cos, sin, rot), reference(x))).toBeLessThan(1e-5);
      // Position 0 is the identity.
      const at0 = tf.slice(applyRope(x, cos, sin, rot), [0, 0, 0, 0], [1, 1, -1, -1]);
      expect(maxAbsDiff(at0, tf.slice(x, [0, 0, 0, 0], [1, 1, -1, -1]))).toBeLessThan(1e-6);
      const probe = randn(x.shape);
      const g1 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(applyRope(v as tf.Tensor4D, cos, sin, rot), probe)))(
        x,
      );
      const g2 = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(reference(v), probe)))(x);
      expect(maxAbsDiff(g1, g2)).toBeLessThan(1e-5);
    });
  });
});
