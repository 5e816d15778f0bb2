import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { formatBackendInfo, initBackend, parseBackendName } from './backend.js';

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
    expect(formatBackendInfo(info)).toMatch(/^wasm \(.*skipped tensorflow-gpu: package not installed/);
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
    expect(info).toMatchObject({ name: 'cpu', requested: 'cpu', tfjsBackend: 'cpu', skipped: [] });
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
});
