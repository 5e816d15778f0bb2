import * as tf from '@tensorflow/tfjs-core';

/**
 * Fused element-wise kernels for the wasm backend, written as JS loops over the tensors' own bytes on the wasm
 * heap: RMSNorm, the SwiGLU product and rotary embeddings, forward and backward, each one pass and one kernel
 * where the composite ops cost 5–15 kernels, each a full pass over memory plus tfjs's per-kernel overhead (which
 * dominates decoding). The model's ops (model/ops.ts) call them through `fusedKernels()`, which says whether the
 * active backend has them. POPO_FUSED=0 turns them off (to measure them).
 */

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

const RMS_NORM = 'PopoRmsNorm';
const RMS_NORM_GRAD = 'PopoRmsNormGrad';
const SWIGLU = 'PopoSwiGLU';
const SWIGLU_GRAD = 'PopoSwiGLUGrad';
const ROPE = 'PopoRope';

/** A view of a float32 tensor's bytes on the heap; take views only after every makeOutput (growth detaches). */
function view(backend: WasmBackendLike, t: tf.TensorInfo): Float32Array {
  return new Float32Array(
    backend.wasm.HEAPU8.buffer,
    backend.dataIdMap.get(t.dataId).memoryOffset,
    tf.util.sizeFromShape(t.shape),
  );
}

function assertFloat(name: string, ts: tf.TensorInfo[]): void {
  for (const t of ts)
    if (t.dtype !== 'float32') throw new Error(`${name}: float32 inputs only, got ${t.dtype}`);
}

type Kernel = (
  inputs: Record<string, tf.TensorInfo>,
  backend: WasmBackendLike,
  attrs: Record<string, number>,
) => tf.TensorInfo | tf.TensorInfo[];

const KERNELS: Record<string, Kernel> = {
  /** y = x · rsqrt(mean(x²) + eps) · weight over the last axis. */
  [RMS_NORM]: ({ x, weight }, backend, { eps }) => {
    assertFloat(RMS_NORM, [x, weight]);
    const out = backend.makeOutput(x.shape, 'float32');
    const [X, W, Y] = [view(backend, x), view(backend, weight), view(backend, out)];
    const H = W.length;
    for (let r = 0; r < X.length; r += H) {
      let ss = 0;
      for (let j = 0; j < H; j++) ss += X[r + j] * X[r + j];
      const rs = 1 / Math.sqrt(ss / H + eps);
      for (let j = 0; j < H; j++) Y[r + j] = X[r + j] * rs * W[j];
    }
    return out;
  },
  /** dx = r·(w·dy − x·r²·Σ(w·dy·x)/H), dw = Σ_rows dy·x·r, with r = rsqrt(mean(x²) + eps). */
  [RMS_NORM_GRAD]: ({ dy, x, weight }, backend, { eps }) => {
    assertFloat(RMS_NORM_GRAD, [dy, x, weight]);
    const dxOut = backend.makeOutput(x.shape, 'float32');
    const dwOut = backend.makeOutput(weight.shape, 'float32');
    const [D, X, W, DX, DW] = [dy, x, weight, dxOut, dwOut].map((t) => view(backend, t));
    const H = W.length;
    const acc = new Float64Array(H);
    for (let r = 0; r < X.length; r += H) {
      let ss = 0;
      let dot = 0;
      for (let j = 0; j < H; j++) {
        ss += X[r + j] * X[r + j];
        dot += W[j] * D[r + j] * X[r + j];
      }
      const rs = 1 / Math.sqrt(ss / H + eps);
      const c = (rs * rs * dot) / H;
      for (let j = 0; j < H; j++) {
        DX[r + j] = rs * (W[j] * D[r + j] - X[r + j] * c);
        acc[j] += D[r + j] * X[r + j] * rs;
      }
    }
    DW.set(acc);
    return [dxOut, dwOut];
  },
  /** y = gate · s · up with s = sigmoid(gate) computed by the backend's own (vectorised) Sigmoid. */
  [SWIGLU]: ({ gate, sig, up }, backend) => {
    assertFloat(SWIGLU, [gate, sig, up]);
    const out = backend.makeOutput(gate.shape, 'float32');
    const [G, S, U, Y] = [gate, sig, up, out].map((t) => view(backend, t));
    for (let i = 0; i < Y.length; i++) Y[i] = G[i] * S[i] * U[i];
    return out;
  },
  /** dgate = dy·up·s·(1 + gate·(1 − s)), dup = dy·gate·s. */
  [SWIGLU_GRAD]: ({ dy, gate, sig, up }, backend) => {
    assertFloat(SWIGLU_GRAD, [dy, gate, sig, up]);
    const dgOut = backend.makeOutput(gate.shape, 'float32');
    const duOut = backend.makeOutput(up.shape, 'float32');
    const [D, G, S, U, DG, DU] = [dy, gate, sig, up, dgOut, duOut].map((t) => view(backend, t));
    for (let i = 0; i < D.length; i++) {
      const s = S[i];
      const g = G[i];
      DG[i] = D[i] * U[i] * s * (1 + g * (1 - s));
      DU[i] = D[i] * g * s;
    }
    return [dgOut, duOut];
  },
  /**
   * Rotary embedding of x [B, T, h, d] with tables cos/sin [B, T, 1, d] (HF layout: both halves repeat the same
   * frequencies): y = x·cos + rotate_half(x)·sin. Its gradient is the same map with −sin (`sign` −1).
   */
  [ROPE]: ({ x, cos, sin }, backend, { sign }) => {
    assertFloat(ROPE, [x, cos, sin]);
    const out = backend.makeOutput(x.shape, 'float32');
    const [X, C, S, Y] = [x, cos, sin, out].map((t) => view(backend, t));
    const [, , h, d] = x.shape;
    const half = d / 2;
    for (let bt = 0, tab = 0; bt < X.length; bt += h * d, tab += d) {
      for (let r = bt; r < bt + h * d; r += d) {
        for (let i = 0; i < half; i++) {
          const c = C[tab + i];
          const s = sign * S[tab + i];
          const a = X[r + i];
          const b = X[r + i + half];
          Y[r + i] = a * c - b * s;
          Y[r + i + half] = b * c + a * s;
        }
      }
    }
    return out;
  },
};

let registered = false;

/** True when the active backend has the fused kernels (wasm, unless POPO_FUSED=0). Registers them once. */
export function fusedKernels(): boolean {
  if (tf.getBackend() !== 'wasm' || process.env.POPO_FUSED === '0') return false;
  if (!registered) {
    registered = true;
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
  return true;
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
