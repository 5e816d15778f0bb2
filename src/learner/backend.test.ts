import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { type BackendInfo, formatBackendInfo, initBackend, parseBackendName } from './backend.js';
import { loadOpenBlas, OPENBLAS_INSTALL_HINT } from './kernels/openblas.js';

describe('backend selection', () => {
  it('auto skips the native backends that are not installed and reports why', async () => {
    const info = await initBackend('auto');
    // Here neither tfjs-node package is installed, so auto lands on wasm.
    expect(info.name).toBe('wasm');
    expect(info.requested).toBe('auto');
    expect(info.tfjsBackend).toBe('wasm');
    expect(info.tfjsVersion).toBe(tf.version_core);
    expect(info.skipped.map((s) => s.name)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(info.skipped[0].reason).toBe('package not installed');
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(typeof info.simd).toBe('boolean');
    // With OpenBLAS installed (CI installs it) the matMuls run there and the label says so.
    const blas = loadOpenBlas().blas !== undefined;
    expect(info.label).toBe(blas ? 'wasm+blas' : 'wasm');
    expect(info.blas?.active).toBe(blas);
    expect(formatBackendInfo(info)).toMatch(
      blas
        ? /^wasm\+blas \(simd.*matMul on OpenBLAS .*skipped tensorflow-gpu: package not installed/
        : /^wasm \(.*no BLAS: .*skipped tensorflow-gpu/,
    );
    // The wasm binary really runs: a matMul on the wasm backend.
    const y = tf.tidy(() => tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]])).dataSync()[0]);
    expect(y).toBe(11);
  });

  it('a named backend that is missing explains how to install it', async () => {
    await expect(initBackend('tensorflow-gpu')).rejects.toThrow(
      /npm install @tensorflow\/tfjs-node-gpu.*CUDA/,
    );
    await expect(initBackend('tensorflow')).rejects.toThrow(/npm install @tensorflow\/tfjs-node/);
  });

  it('switches to cpu on request and registers gradients', async () => {
    const info = await initBackend('cpu');
    expect(info).toMatchObject({
      name: 'cpu',
      requested: 'cpu',
      tfjsBackend: 'cpu',
      skipped: [],
      label: 'cpu',
    });
    expect(info.blas).toBeUndefined();
    const g = tf.tidy(
      () =>
        tf
          .grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([3]))
          .dataSync()[0],
    );
    expect(g).toBe(6);
  });

  it('reads POPO_BACKEND and rejects unknown names', async () => {
    const old = process.env.POPO_BACKEND;
    try {
      process.env.POPO_BACKEND = 'cpu';
      expect((await initBackend()).name).toBe('cpu');
      process.env.POPO_BACKEND = 'gpu';
      await expect(initBackend()).rejects.toThrow(
        /POPO_BACKEND: unknown backend "gpu"; expected one of auto, tensorflow-gpu/,
      );
    } finally {
      if (old === undefined) delete process.env.POPO_BACKEND;
      else process.env.POPO_BACKEND = old;
    }
    expect(parseBackendName(' WASM ')).toBe('wasm');
    expect(parseBackendName(undefined)).toBe('auto');
  });

  it('without OpenBLAS the report names the plain wasm path and how to get the fast one', () => {
    const info: BackendInfo = {
      name: 'wasm',
      requested: 'auto',
      tfjsBackend: 'wasm',
      tfjsVersion: tf.version_core,
      threads: 1,
      simd: true,
      skipped: [],
      label: 'wasm',
      blas: { active: false, reason: `libopenblas.so.0 not found; ${OPENBLAS_INSTALL_HINT}` },
    };
    expect(formatBackendInfo(info)).toBe(
      `wasm (simd; 1 thread; no BLAS: libopenblas.so.0 not found; ${OPENBLAS_INSTALL_HINT})`,
    );
    expect(OPENBLAS_INSTALL_HINT).toMatch(/apt-get install libopenblas0-pthread/);
  });
});

describe('vendored tfjs gradients', () => {
  it('are exactly what the installed tfjs-core bundles to', () => {
    const r = spawnSync(process.execPath, ['scripts/vendor-tfjs-gradients.mjs', '--check'], {
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe('up to date');
    expect(r.status).toBe(0);
  });
});
