/**
 * WebGPU in Node: the `webgpu` package is Dawn (Chrome's WebGPU) built as a Node addon. tfjs-backend-webgpu looks for
 * `navigator.gpu`, which Node does not have, so this installs Dawn's there (and the WebGPU constants such as
 * GPUBufferUsage that the backend reads as globals). On a machine without a GPU, Dawn runs on Mesa's lavapipe
 * (Vulkan on the CPU, `mesa-vulkan-drivers` ≥ 25 from bookworm-backports; Debian 12's Mesa 22 is refused by Dawn),
 * which is how the webgpu kernels are tested here: correct, not fast.
 */

/** What Dawn found, for job rows and health: e.g. `{ vendor: 'mesa', architecture: 'software', ... }`. */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (lavapipe, SwiftShader): right answers, wasm is faster. */
  software: boolean;
}

/** The slice of the WebGPU API used here (the full types are not in this project's global types). */
interface GPU {
  requestAdapter(): Promise<{
    info: { vendor: string; architecture: string; device: string; description: string };
  } | null>;
}

/** Package name in a variable: an optional dependency, absent where it failed to install. */
const WEBGPU_PKG = 'webgpu';

let installed: Promise<GpuAdapterInfo> | undefined;

/** Installs `navigator.gpu` from Dawn once; rejects with a reason when there is no package or no adapter. */
export function installNodeWebGpu(): Promise<GpuAdapterInfo> {
  installed ??= (async () => {
    const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
    if (!nav?.gpu) {
      const dawn = (await import(WEBGPU_PKG)) as { create(flags: string[]): GPU; globals: object };
      Object.assign(globalThis, dawn.globals);
      const gpu = dawn.create([]);
      if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
      else
        Object.defineProperty(globalThis, 'navigator', {
          value: { gpu },
          configurable: true,
          writable: true,
        });
    }
    const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
    const adapter = await gpu.requestAdapter();
    if (!adapter)
      throw new Error(
        'no WebGPU adapter (no GPU driver; on a CPU-only Debian 12 host install mesa-vulkan-drivers from bookworm-backports)',
      );
    const info = adapter.info;
    return {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      software: info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(info.description),
    };
  })();
  installed.catch(() => (installed = undefined));
  return installed;
}
