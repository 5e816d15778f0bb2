import { SIMD_WASM } from './simd-binary.js';

/** The kernels of simd.wat; pointers are byte offsets on the tfjs wasm heap, counts are floats. */
export interface SimdKernels {
  rms_norm(x: number, w: number, y: number, rows: number, H: number, eps: number): void;
  rms_norm_grad(
    dy: number,
    x: number,
    w: number,
    dx: number,
    dw: number,
    rows: number,
    H: number,
    eps: number,
  ): void;
  swiglu(g: number, s: number, u: number, y: number, n: number): void;
  swiglu_grad(dy: number, g: number, s: number, u: number, dg: number, du: number, n: number): void;
  rope(
    x: number,
    cos: number,
    sin: number,
    y: number,
    rows: number,
    h: number,
    d: number,
    sign: number,
  ): void;
  adamw(...args: number[]): number;
}

let compiled: WebAssembly.Module | undefined;
const instances = new WeakMap<WebAssembly.Memory, SimdKernels>();

/**
 * The SIMD kernels bound to a wasm backend's memory (`backend.wasm.asm.memory`, which tfjs's Emscripten build
 * exports), or why not: no memory export, or a memory this module cannot import (the threaded build's shared one).
 */
export function simdKernelsFor(memory: unknown): { kernels?: SimdKernels; reason?: string } {
  if (!(memory instanceof WebAssembly.Memory)) return { reason: 'the wasm backend exports no memory' };
  const known = instances.get(memory);
  if (known) return { kernels: known };
  try {
    compiled ??= new WebAssembly.Module(SIMD_WASM);
    const instance = new WebAssembly.Instance(compiled, { env: { memory } });
    const kernels = instance.exports as unknown as SimdKernels;
    instances.set(memory, kernels);
    return { kernels };
  } catch (e) {
    return { reason: `SIMD kernels unavailable: ${(e as Error).message}` };
  }
}
