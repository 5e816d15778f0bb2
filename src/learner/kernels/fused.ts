import * as tf from '@tensorflow/tfjs-core';

import { simdKernelsFor, type SimdKernels } from './simd.js';

/**
 * Fused kernels for the wasm backend, run on the tensors' own bytes on the wasm heap: RMSNorm, the SwiGLU product,
 * rotary embeddings (forward and backward), an AdamW step and the embedding's row gather. Each is one pass and one
 * kernel where the composite ops cost 5–15 kernels, each a full pass over memory plus tfjs's per-kernel overhead
 * (which dominates decoding). The arithmetic is WebAssembly SIMD (simd.wat) on the backend's own memory; the
 * model's ops (model/ops.ts) call them through `fusedKernels()`, which says whether the active backend has them.
 * POPO_FUSED=0 turns them off (to measure them).
 */

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: unknown } };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const RMS_NORM = 'PopoRmsNorm';
const RMS_NORM_GRAD = 'PopoRmsNormGrad';
const SWIGLU = 'PopoSwiGLU';
const SWIGLU_GRAD = 'PopoSwiGLUGrad';
const ROPE = 'PopoRope';
const ADAMW = 'PopoAdamW';
const GATHER_ROWS = 'PopoGatherRows';

/** Byte offset of a tensor's data on the wasm heap. */
const at = (backend: WasmBackendLike, t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId).memoryOffset;

function assertFloat(name: string, ts: tf.TensorInfo[]): void {
  for (const t of ts)
    if (t.dtype !== 'float32') throw new Error(`${name}: float32 inputs only, got ${t.dtype}`);
}

type Kernel = (
  inputs: Record<string, tf.TensorInfo>,
  backend: WasmBackendLike,
  attrs: Record<string, number>,
) => tf.TensorInfo | tf.TensorInfo[];

/** The SIMD kernels bound to this backend's memory (looked up per call: a re-created backend has a new memory). */
const simd = (backend: WasmBackendLike): SimdKernels => simdKernelsFor(backend.wasm.asm?.memory).kernels!;

const KERNELS: Record<string, Kernel> = {
  /** y = x · rsqrt(mean(x²) + eps) · weight over the last axis. */
  [RMS_NORM]: ({ x, weight }, backend, { eps }) => {
    assertFloat(RMS_NORM, [x, weight]);
    const out = backend.makeOutput(x.shape, 'float32');
    const H = weight.shape[0];
    simd(backend).rms_norm(
      at(backend, x),
      at(backend, weight),
      at(backend, out),
      tf.util.sizeFromShape(x.shape) / H,
      H,
      eps,
    );
    return out;
  },
  /** dx = r·(w·dy − x·r²·Σ(w·dy·x)/H), dw = Σ_rows dy·x·r, with r = rsqrt(mean(x²) + eps). */
  [RMS_NORM_GRAD]: ({ dy, x, weight }, backend, { eps }) => {
    assertFloat(RMS_NORM_GRAD, [dy, x, weight]);
    const dx = backend.makeOutput(x.shape, 'float32');
    const dw = backend.makeOutput(weight.shape, 'float32');
    const H = weight.shape[0];
    const [pdy, px, pw, pdx, pdw] = [dy, x, weight, dx, dw].map((t) => at(backend, t));
    simd(backend).rms_norm_grad(pdy, px, pw, pdx, pdw, tf.util.sizeFromShape(x.shape) / H, H, eps);
    return [dx, dw];
  },
  /** y = gate · s · up with s = sigmoid(gate) computed by the backend's own (vectorised) Sigmoid. */
  [SWIGLU]: ({ gate, sig, up }, backend) => {
    assertFloat(SWIGLU, [gate, sig, up]);
    const out = backend.makeOutput(gate.shape, 'float32');
    const [pg, ps, pu, py] = [gate, sig, up, out].map((t) => at(backend, t));
    simd(backend).swiglu(pg, ps, pu, py, tf.util.sizeFromShape(gate.shape));
    return out;
  },
  /** dgate = dy·up·s·(1 + gate·(1 − s)), dup = dy·gate·s. */
  [SWIGLU_GRAD]: ({ dy, gate, sig, up }, backend) => {
    assertFloat(SWIGLU_GRAD, [dy, gate, sig, up]);
    const dg = backend.makeOutput(gate.shape, 'float32');
    const du = backend.makeOutput(up.shape, 'float32');
    const [pdy, pg, ps, pu, pdg, pdu] = [dy, gate, sig, up, dg, du].map((t) => at(backend, t));
    simd(backend).swiglu_grad(pdy, pg, ps, pu, pdg, pdu, tf.util.sizeFromShape(gate.shape));
    return [dg, du];
  },
  /**
   * Rotary embedding of x [B, T, h, d] with tables cos/sin [B, T, 1, d] (HF layout: both halves repeat the same
   * frequencies): y = x·cos + rotate_half(x)·sin. Its gradient is the same map with −sin (`sign` −1).
   */
  [ROPE]: ({ x, cos, sin }, backend, { sign }) => {
    assertFloat(ROPE, [x, cos, sin]);
    const out = backend.makeOutput(x.shape, 'float32');
    const [B, T, h, d] = x.shape;
    simd(backend).rope(
      at(backend, x),
      at(backend, cos),
      at(backend, sin),
      at(backend, out),
      B * T,
      h,
      d,
      sign,
    );
    return out;
  },
  /** One AdamW step of one parameter: [p', m', v', Σδ²] (see simd.wat; bit-identical to the composite ops). */
  [ADAMW]: ({ p, g, m, v }, backend, a) => {
    assertFloat(ADAMW, [p, g, m, v]);
    const outs = [p, m, v].map((t) => backend.makeOutput(t.shape, 'float32'));
    const sq = backend.makeOutput([1], 'float32');
    const n = tf.util.sizeFromShape(p.shape);
    const ptrs = [p, g, m, v, ...outs].map((t) => at(backend, t));
    const c = [a.scale, a.b1, a.c1, a.b2, a.c2, a.bc1, a.bc2, a.eps, a.lr, a.wd];
    const vec = n - (n % 4);
    let sum = simd(backend).adamw(...ptrs, vec, ...c);
    if (vec < n) sum += adamwTail(backend, ptrs, vec, n, c);
    new Float32Array(backend.wasm.HEAPU8.buffer, at(backend, sq), 1)[0] = sum;
    return [...outs, sq];
  },
  /** Rows of a float32 table [V, W] picked by int32 ids [n] (the embedding): one memmove per row. */
  [GATHER_ROWS]: ({ table, ids }, backend) => {
    const [, W] = table.shape;
    const n = ids.shape[0];
    const out = backend.makeOutput([n, W], table.dtype);
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const idx = new Int32Array(backend.wasm.HEAPU8.buffer, at(backend, ids), n);
    const src = at(backend, table) / 4;
    const dst = at(backend, out) / 4;
    for (let i = 0; i < n; i++) heap.copyWithin(dst + i * W, src + idx[i] * W, src + (idx[i] + 1) * W);
    return out;
  },
};

/**
 * The last n mod 4 elements of an AdamW step in JS: Math.fround after every operation is float32 arithmetic
 * exactly (a double holds the exact result of one float32 +, −, ×, ÷ or sqrt before rounding).
 */
function adamwTail(
  backend: WasmBackendLike,
  [pp, pg, pm, pv, ppo, pmo, pvo]: number[],
  from: number,
  n: number,
  constants: number[],
): number {
  const f = Math.fround;
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  const [scale, b1, c1, b2, c2, bc1, bc2, eps, lr, wd] = constants.map(f);
  let sum = 0;
  for (let i = from; i < n; i++) {
    const g0 = heap[pg / 4 + i];
    const g = scale === 1 ? g0 : f(g0 * scale);
    const m = f(f(heap[pm / 4 + i] * b1) + f(g * c1));
    const v = f(f(heap[pv / 4 + i] * b2) + f(f(g * g) * c2));
    const p = heap[pp / 4 + i];
    let d = f(f(m / bc1) / f(f(Math.sqrt(f(v / bc2))) + eps));
    if (wd !== 0) d = f(d + f(p * wd));
    d = f(d * lr);
    sum += d * d;
    heap[pmo / 4 + i] = m;
    heap[pvo / 4 + i] = v;
    heap[ppo / 4 + i] = f(p - d);
  }
  return sum;
}

let registered = false;
let simdReady = false;

/**
 * True when the active backend has the fused kernels (wasm with its SIMD kernels, unless POPO_FUSED=0). Registers
 * them once.
 */
export function fusedKernels(): boolean {
  if (tf.getBackend() !== 'wasm' || process.env.POPO_FUSED === '0') return false;
  if (!registered) {
    registered = true;
    const backend = tf.backend() as unknown as WasmBackendLike;
    simdReady = simdKernelsFor(backend.wasm.asm?.memory).kernels !== undefined;
    if (!simdReady) return false;
    for (const [kernelName, k] of Object.entries(KERNELS)) {
      tf.registerKernel({
        kernelName,
        backendName: 'wasm',
        kernelFunc: ({ inputs, backend, attrs }) =>
          k(
            inputs as Record<string, tf.TensorInfo>,
            backend as unknown as WasmBackendLike,
            attrs as unknown as Record<string, number>,
          ),
      });
    }
  }
  return simdReady;
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}) =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs);

type CustomGradientFunc<T extends tf.Tensor> = Parameters<typeof tf.customGrad<T>>[0];

/** RMSNorm over the last axis in one kernel each way (call only when fusedKernels()). */
export function fusedRmsNorm<T extends tf.Tensor>(x: T, weight: tf.Tensor1D, eps: number): T {
  const f = tf.customGrad(((xx: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xx, w]);
    return {
      value: run(RMS_NORM, { x: xx, weight: w }, { eps }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) =>
        run(RMS_NORM_GRAD, { dy, x: sx, weight: sw }, { eps }) as tf.Tensor[],
    };
  }) as unknown as CustomGradientFunc<T>);
  return f(x, weight) as T;
}

/** silu(gate) · up (SwiGLU) in one kernel each way after the backend's Sigmoid (call only when fusedKernels()). */
export function fusedSwiGLU<T extends tf.Tensor>(gate: T, up: T): T {
  const f = tf.customGrad(((g: tf.Tensor, u: tf.Tensor, save: tf.GradSaveFunc) => {
    const sig = tf.sigmoid(g);
    save([g, sig, u]);
    return {
      value: run(SWIGLU, { gate: g, sig, up: u }) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, [sg, ss, su]: tf.Tensor[]) =>
        run(SWIGLU_GRAD, { dy, gate: sg, sig: ss, up: su }) as tf.Tensor[],
    };
  }) as unknown as CustomGradientFunc<T>);
  return f(gate, up) as T;
}

/** Rotary embedding of x [B, T, h, d] by tables [B, T, 1, d] (call only when fusedKernels()). */
export function fusedRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  // The tables are saved, not closed over: tf.grad tidies the forward pass, so only saved tensors outlive it.
  const f = tf.customGrad(((xx: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([cos, sin]);
    return {
      value: run(ROPE, { x: xx, cos, sin }, { sign: 1 }) as tf.Tensor4D,
      gradFunc: (dy: tf.Tensor4D, [c, s]: tf.Tensor[]) =>
        run(ROPE, { x: dy, cos: c, sin: s }, { sign: -1 }) as tf.Tensor4D,
    };
  }) as unknown as CustomGradientFunc<tf.Tensor4D>);
  return f(x) as tf.Tensor4D;
}

/** table[ids] for a float32 table [V, W] and int32 ids [n] already checked against V (call only when fusedKernels()). */
export function fusedGatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  return run(GATHER_ROWS, { table, ids }) as tf.Tensor2D;
}

export interface AdamWConstants {
  /** Gradient clip factor (1 = none). */
  scale: number;
  beta1: number;
  beta2: number;
  /** 1 − beta^t, the bias corrections. */
  bc1: number;
  bc2: number;
  eps: number;
  lr: number;
  /** Weight decay for this parameter (0 for vectors). */
  wd: number;
}

/** One AdamW step of one parameter in one pass: new p, m, v and Σδ² as a [1] tensor (call only when fusedKernels()). */
export function fusedAdamW(
  p: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  c: AdamWConstants,
): tf.Tensor[] {
  const attrs = {
    scale: c.scale,
    b1: c.beta1,
    c1: 1 - c.beta1,
    b2: c.beta2,
    c2: 1 - c.beta2,
    bc1: c.bc1,
    bc2: c.bc2,
    eps: c.eps,
    lr: c.lr,
    wd: c.wd,
  };
  return run(ADAMW, { p, g, m, v }, attrs) as tf.Tensor[];
}
