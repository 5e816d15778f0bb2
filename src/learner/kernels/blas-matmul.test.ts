import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { CausalLM } from '../model/causal-lm.js';
import { KVCache } from '../model/kv-cache.js';
import { Rng } from '../util/random.js';
import { blasKernelsActive, disableBlasKernels, enableBlasKernels } from './blas-matmul.js';
import { loadOpenBlas } from './openblas.js';

/**
 * The OpenBLAS BatchMatMul against the stock wasm kernel and the pure-JS cpu backend, on the shapes tfjs and the
 * model produce: 2-D, batched, every transpose combination, numpy broadcasting of batch dims, empty dims, and
 * tfjs's stock matMul gradients. CI installs OpenBLAS (.ci/run), so there a missing library is a failure.
 */
const available = loadOpenBlas().blas !== undefined;
if (process.env.CI && !available) {
  throw new Error(`CI must run the BLAS kernel tests: ${loadOpenBlas().reason}`);
}

type Case = { a: number[]; b: number[]; ta?: boolean; tb?: boolean };

const CASES: Case[] = [
  { a: [5, 7], b: [7, 3] },
  { a: [7, 5], b: [7, 3], ta: true },
  { a: [5, 7], b: [3, 7], tb: true },
  { a: [7, 5], b: [3, 7], ta: true, tb: true },
  { a: [2, 3, 5, 7], b: [2, 3, 7, 4] },
  { a: [2, 3, 7, 5], b: [2, 3, 4, 7], ta: true, tb: true },
  { a: [2, 3, 5, 7], b: [2, 3, 4, 7], tb: true },
  { a: [6, 5, 7], b: [7, 3] }, // batch folds into rows
  { a: [6, 7, 5], b: [7, 3], ta: true }, // transposed A: one product per batch
  { a: [5, 7], b: [4, 7, 3] }, // A broadcast over B's batch
  { a: [2, 1, 5, 7], b: [1, 3, 7, 4] }, // both broadcast
  { a: [3, 1, 4, 5], b: [2, 5, 6], tb: false }, // ranks differ
  { a: [1, 9], b: [9, 1] },
  { a: [40, 300], b: [300, 200] }, // large enough for the multi-threaded path
  { a: [3, 0], b: [0, 4] }, // K = 0: zeros
  { a: [0, 4], b: [4, 3] }, // empty output
];

const size = (dims: number[]) => dims.reduce((x, y) => x * y, 1);

function data(rng: Rng, shape: number[]): Float32Array {
  return Float32Array.from(rng.normalArray(size(shape)));
}

/** tfjs's BatchMatMul gradient does not reduce over broadcast batch dims (on any backend): values only there. */
const broadcasts = (c: Case) => c.a.slice(0, -2).join() !== c.b.slice(0, -2).join();

/** tfjs's own kernels (wasm and cpu) flatten batch dims, so they only broadcast a batch of one. */
const tfjsBroadcasts = (c: Case) =>
  !broadcasts(c) || size(c.a.slice(0, -2)) === 1 || size(c.b.slice(0, -2)) === 1;

/** Naive float64 op(A)·op(B) with numpy broadcasting of the batch dims: the reference for every case. */
function reference(c: Case, seed: number): Float32Array {
  const rng = new Rng(seed);
  const A = data(rng, c.a);
  const B = data(rng, c.b);
  const [ra, rb] = [c.a.length, c.b.length];
  const M = c.ta ? c.a[ra - 1] : c.a[ra - 2];
  const K = c.ta ? c.a[ra - 2] : c.a[ra - 1];
  const N = c.tb ? c.b[rb - 2] : c.b[rb - 1];
  const bo = tf.broadcast_util.assertAndGetBroadcastShape(c.a.slice(0, -2), c.b.slice(0, -2));
  const pad = (s: number[]) => [...Array<number>(bo.length - s.length).fill(1), ...s];
  const [pa, pb] = [pad(c.a.slice(0, -2)), pad(c.b.slice(0, -2))];
  const out = new Float32Array(size(bo) * M * N);
  for (let o = 0; o < size(bo); o++) {
    let [ia, ib, rest] = [0, 0, o];
    for (let d = 0; d < bo.length; d++) {
      const inner = size(bo.slice(d + 1));
      const coord = Math.floor(rest / inner);
      rest -= coord * inner;
      ia = ia * pa[d] + (pa[d] === 1 ? 0 : coord);
      ib = ib * pb[d] + (pb[d] === 1 ? 0 : coord);
    }
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const av = A[ia * M * K + (c.ta ? k * M + i : i * K + k)];
          const bv = B[ib * K * N + (c.tb ? j * K + k : k * N + j)];
          acc += av * bv;
        }
        out[(o * M + i) * N + j] = acc;
      }
    }
  }
  return out;
}

/** Values of a·b and the gradients of sum(a·b ⊙ probe) for one case on the current backend. */
function run(c: Case, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return tf.tidy(() => {
    const a = tf.tensor(data(rng, c.a), c.a);
    const b = tf.tensor(data(rng, c.b), c.b);
    const y = tf.matMul(a, b, c.ta, c.tb);
    if (broadcasts(c)) return [y.dataSync() as Float32Array];
    const probe = tf.tensor(data(rng, y.shape), y.shape);
    const [ga, gb] = tf.grads((x: tf.Tensor, z: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(x, z, c.ta, c.tb), probe)),
    )([a, b]);
    return [y, ga, gb].map((t) => t.dataSync() as Float32Array);
  });
}

function relDiff(x: Float32Array, ref: Float32Array): number {
  expect(x.length).toBe(ref.length);
  let scale = 1e-6;
  let diff = 0;
  for (let i = 0; i < x.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    diff = Math.max(diff, Math.abs(x[i] - ref[i]));
  }
  return diff / scale;
}

describe.skipIf(!available)('BatchMatMul on OpenBLAS (wasm heap, zero copy)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });
  afterAll(async () => {
    enableBlasKernels();
    await initBackend('cpu');
  });

  it('initBackend("wasm") routes matMuls to OpenBLAS and reports wasm+blas', async () => {
    const info = await initBackend('wasm');
    expect(blasKernelsActive()).toBe(true);
    expect(info.label).toBe('wasm+blas');
    expect(info.blas).toMatchObject({ active: true });
  });

  it.each(CASES.map((c, i) => [i, c] as const))(
    'case %i %j: values and gradients match the stock wasm kernel and cpu',
    async (i, c) => {
      await initBackend('wasm');
      const blas = run(c, i);
      disableBlasKernels();
      let stock: Float32Array[];
      try {
        stock = run(c, i);
      } finally {
        enableBlasKernels();
      }
      await initBackend('cpu');
      const cpu = run(c, i);
      await initBackend('wasm');
      if (c.a.includes(0) || c.b.includes(0)) {
        // Empty products: zeros of the right size everywhere.
        for (const t of blas) expect(t.every((v) => v === 0)).toBe(true);
      }
      expect(blas).toHaveLength(broadcasts(c) ? 1 : 3);
      expect(relDiff(blas[0], reference(c, i)), 'values vs float64 reference').toBeLessThan(1e-5);
      if (!tfjsBroadcasts(c)) return;
      for (let k = 0; k < blas.length; k++) {
        expect(relDiff(blas[k], cpu[k]), `output ${k} vs cpu`).toBeLessThan(1e-5);
        expect(relDiff(blas[k], stock[k]), `output ${k} vs stock wasm`).toBeLessThan(1e-5);
      }
    },
  );

  const tinyModel = () =>
    CausalLM.create(
      {
        architectures: ['Qwen2ForCausalLM'],
        hidden_size: 32,
        intermediate_size: 48,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        vocab_size: 50,
        max_position_embeddings: 64,
        tie_word_embeddings: true,
      },
      3,
    );

  it('KV-cache decoding on the BLAS layout (V untransposed) gives the full forward logits', async () => {
    await initBackend('wasm');
    const model = tinyModel();
    const ids = [
      [1, 5, 9, 2, 7, 3],
      [4, 4, 8, 1, 0, 6],
    ];
    const mask = [
      [0, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ];
    try {
      const full = tf.tidy(
        () =>
          model
            .forward(tf.tensor2d(ids, [2, 6], 'int32'), { attentionMask: tf.tensor2d(mask, [2, 6]) })
            .logits.dataSync() as Float32Array,
      );
      const cache = new KVCache(2);
      const stepwise: Float32Array[] = [];
      try {
        for (const [from, to] of [
          [0, 4],
          [4, 5],
          [5, 6],
        ]) {
          const part = (rows: number[][]) => rows.map((r) => r.slice(from, to));
          stepwise.push(
            tf.tidy(
              () =>
                model
                  .forward(tf.tensor2d(part(ids), [2, to - from], 'int32'), {
                    cache,
                    attentionMask: tf.tensor2d(part(mask), [2, to - from]),
                  })
                  .logits.dataSync() as Float32Array,
            ),
          );
        }
        expect(cache.layers[0]?.vTransposed).toBe(false);
      } finally {
        cache.dispose();
      }
      // Compare every position of the full forward with the matching position of the cached passes.
      const V = 50;
      const at = (logits: Float32Array, T: number, row: number, t: number) =>
        logits.slice((row * T + t) * V, (row * T + t + 1) * V);
      for (const row of [0, 1]) {
        for (let t = 1; t < 6; t++) {
          const [chunk, T, off] = t < 4 ? [0, 4, 0] : t === 4 ? [1, 1, 4] : [2, 1, 5];
          const diff = relDiff(at(stepwise[chunk], T, row, t - off), at(full, 6, row, t));
          expect(diff, `row ${row} position ${t}`).toBeLessThan(1e-4);
        }
      }
    } finally {
      model.dispose();
    }
  });

  it('a model step (forward + gradients) matches the stock wasm kernels', async () => {
    await initBackend('wasm');
    const model = tinyModel();
    const ids = tf.tensor2d(
      [
        [1, 5, 9, 2, 7, 3],
        [4, 4, 8, 1, 0, 6],
      ],
      [2, 6],
      'int32',
    );
    const step = () =>
      tf.tidy(() => {
        const vars = [...model.weights().values()];
        const { value, grads } = tf.variableGrads(
          () => tf.mean(tf.square(model.forward(ids).logits)) as tf.Scalar,
          vars,
        );
        return [value, ...vars.map((v) => grads[v.name])].map((t) => t.dataSync() as Float32Array);
      });
    try {
      const blas = step();
      disableBlasKernels();
      let stock: Float32Array[];
      try {
        stock = step();
      } finally {
        enableBlasKernels();
      }
      blas.forEach((g, k) => expect(relDiff(g, stock[k]), `tensor ${k}`).toBeLessThan(1e-4));
    } finally {
      ids.dispose();
      model.dispose();
    }
  });
});
