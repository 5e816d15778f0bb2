import * as tf from '@tensorflow/tfjs-core';
import { loadOpenBlas, type OpenBlas } from './openblas.js';

/**
 * BatchMatMul for the wasm backend on OpenBLAS sgemm, run directly on the wasm heap: tensors are addressed as the
 * heap's native base address + their heap offset, so nothing is copied, and transposeA/transposeB become BLAS
 * flags (free) instead of the stock kernel's naive loop. tfjs's matMul gradient (built from transposed matMuls)
 * lands here too. Non-float32 inputs go to the stock kernel.
 */

interface WasmBackendLike {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

/**
 * Products below this many multiply-adds run on one BLAS thread: waking the other threads costs more than it
 * saves (measured on the 2-core build machine; see docs/engine.md). Larger ones use POPO_BLAS_THREADS threads
 * (default: OpenBLAS's, i.e. the cores). The count depends on nothing else — not on the machine's load — because
 * OpenBLAS's result depends on it (1 and 2 threads round differently), and a run must give the same numbers
 * whenever it is repeated or resumed on the same machine. Worker slots split the cores (learner-slots).
 */
const MULTI_THREAD_MIN_MACS = 1 << 22;

let state:
  | { blas: OpenBlas; original: tf.KernelConfig; maxThreads: number; base: number; heap?: ArrayBuffer }
  | undefined;

/** True while BatchMatMul on wasm runs on OpenBLAS. */
export function blasKernelsActive(): boolean {
  return state !== undefined && tf.getBackend() === 'wasm';
}

/** The loaded library, when active (for reports). */
export function activeBlas(): { library: string; config: string; threads: number } | undefined {
  return state && { library: state.blas.library, config: state.blas.config, threads: state.maxThreads };
}

/**
 * Route the wasm backend's BatchMatMul to OpenBLAS. Call after `tf.setBackend('wasm')`. Returns why not when
 * OpenBLAS is missing or turned off (POPO_BLAS=0); the stock kernel stays in place then. Idempotent.
 */
export function enableBlasKernels(): { ok: true } | { ok: false; reason: string } {
  if (state) return { ok: true };
  const { blas, reason } = loadOpenBlas();
  if (!blas) return { ok: false, reason: reason ?? 'OpenBLAS unavailable' };
  const original = tf.getKernel('BatchMatMul', 'wasm');
  if (!original) return { ok: false, reason: 'the wasm backend has no BatchMatMul kernel to replace' };
  const cap = Number(process.env.POPO_BLAS_THREADS);
  const maxThreads = Number.isInteger(cap) && cap > 0 ? Math.min(cap, blas.maxThreads) : blas.maxThreads;
  state = { blas, original, maxThreads, base: 0 };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: blasBatchMatMul });
  return { ok: true };
}

/** Put the stock wasm kernel back (parity tests compare both in one process). */
export function disableBlasKernels(): void {
  if (!state) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(state.original);
  state = undefined;
}

function heapBase(backend: WasmBackendLike): number {
  const s = state!;
  const buf = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  // Growing the heap replaces the ArrayBuffer object (V8 keeps wasm memory in place, but do not rely on it).
  if (buf !== s.heap) {
    s.heap = buf;
    s.base = s.blas.addressOf(buf);
  }
  return s.base;
}

const blasBatchMatMul: tf.KernelFunc = (args) => {
  const { inputs, attrs } = args;
  const a = inputs.a as tf.TensorInfo;
  const b = inputs.b as tf.TensorInfo;
  const s = state!;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return s.original.kernelFunc(args);
  const backend = args.backend as unknown as WasmBackendLike;
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const ra = a.shape.length;
  const rb = b.shape.length;
  const M = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (K !== Kb) {
    throw new Error(
      `Error in matMul: inner shapes (${K}) and (${Kb}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
        `transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batchOut = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const out = backend.makeOutput([...batchOut, M, N], 'float32');
  const batches = tf.util.sizeFromShape(batchOut);
  if (batches * M * N === 0) return out;
  const base = heapBase(backend);
  const aAddr = base + backend.dataIdMap.get(a.dataId).memoryOffset;
  const bAddr = base + backend.dataIdMap.get(b.dataId).memoryOffset;
  const cAddr = base + backend.dataIdMap.get(out.dataId).memoryOffset;
  if (K === 0) {
    new Float32Array(backend.wasm.HEAPU8.buffer, cAddr - base, batches * M * N).fill(0);
    return out;
  }
  // Row strides of the stored (untransposed) matrices; BLAS wants at least 1.
  const lda = Math.max(1, a.shape[ra - 1]);
  const ldb = Math.max(1, b.shape[rb - 1]);
  const sizeB = tf.util.sizeFromShape(batchB);
  if (sizeB === 1 && !transposeA) {
    // A's batch folds into its rows: one [batches·M, K] × [K, N] product (linear layers on rank-3 inputs).
    gemm(s, false, transposeB, batches * M, N, K, aAddr, lda, bAddr, ldb, cAddr, N);
    return out;
  }
  const aIndex = broadcastIndex(batchA, batchOut);
  const bIndex = broadcastIndex(batchB, batchOut);
  const aStride = M * K * 4;
  const bStride = K * N * 4;
  const cStride = M * N * 4;
  for (let o = 0; o < batches; o++) {
    gemm(
      s,
      transposeA,
      transposeB,
      M,
      N,
      K,
      aAddr + aIndex(o) * aStride,
      lda,
      bAddr + bIndex(o) * bStride,
      ldb,
      cAddr + o * cStride,
      N,
    );
  }
  return out;
};

function gemm(
  s: NonNullable<typeof state>,
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  a: number,
  lda: number,
  b: number,
  ldb: number,
  c: number,
  ldc: number,
): void {
  s.blas.setThreads(s.maxThreads === 1 || m * n * k < MULTI_THREAD_MIN_MACS ? 1 : s.maxThreads);
  s.blas.sgemm(transA, transB, m, n, k, a, lda, b, ldb, 0, c, ldc);
}

/** Maps a flat index over the broadcast batch shape `out` to the flat index into an operand with batch `shape`. */
function broadcastIndex(shape: number[], out: number[]): (o: number) => number {
  const size = tf.util.sizeFromShape(shape);
  if (size === 1) return () => 0;
  if (size === tf.util.sizeFromShape(out)) return (o) => o;
  // Align right (numpy rules); a dimension of 1 repeats.
  const padded = [...Array<number>(out.length - shape.length).fill(1), ...shape];
  const outStrides = tf.util.computeStrides(out);
  const strides = tf.util.computeStrides(padded);
  return (o) => {
    let idx = 0;
    let rest = o;
    for (let d = 0; d < out.length; d++) {
      const coord = d < out.length - 1 ? Math.floor(rest / outStrides[d]) : rest;
      if (d < out.length - 1) rest -= coord * outStrides[d];
      if (padded[d] !== 1) idx += coord * (d < out.length - 1 ? strides[d] : 1);
    }
    return idx;
  };
}
