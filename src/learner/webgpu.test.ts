import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { CausalLM } from './model/causal-lm.js';
import type { ModelConfig } from './model/config.js';
import type { TensorRecord } from './model/safetensors.js';
import { decodeCheckpoint } from './trainer/checkpoint.js';
import { resolveConfig } from './trainer/config.js';
import { ONES, writePrimedModelDir } from './trainer/primed-model-dir.js';
import { train } from './trainer/train.js';
import type { StepMetrics } from './trainer/types.js';
import { installNodeWebGpu } from './webgpu-node.js';

/**
 * The webgpu backend (tfjs-backend-webgpu on Dawn) against the cpu backend: logits, every weight's gradient, and a
 * few POPO steps through the trainer. On a CPU-only machine Dawn runs on Mesa's lavapipe (CI installs Mesa 25 from
 * bookworm-backports, .ci/run); on a GPU host the same test checks the real device (scripts/gpu-check.sh).
 */

const unavailable = await installNodeWebGpu().then(
  () => undefined,
  (e: Error) => e.message,
);
if (unavailable) {
  const reason = `webgpu parity tests: ${unavailable}`;
  // CI installs the Vulkan driver; only when that install failed (POPO_NO_WEBGPU says why) may it skip.
  if (process.env.CI && !process.env.POPO_NO_WEBGPU) throw new Error(`${reason} — CI must install it`);
  console.warn(`SKIPPED ${reason}`);
}

const CFG: ModelConfig = {
  architectures: ['Qwen2ForCausalLM'],
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 50,
  max_position_embeddings: 128,
  tie_word_embeddings: true,
  initializer_range: 0.2,
};
const IDS = [
  [0, 0, 0, 5, 6, 7, 8],
  [1, 2, 3, 4, 5, 6, 7],
];
const MASK = [
  [0, 0, 0, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 1, 1],
];

/** Logits and the gradient of a masked next-token loss with respect to every weight, on the active backend. */
async function forwardBackward(weights: Map<string, TensorRecord>) {
  const model = CausalLM.fromStateDict(CFG, weights);
  try {
    const ids = tf.tensor2d(IDS, undefined, 'int32');
    const mask = tf.tensor2d(MASK, undefined, 'int32');
    const loss = () =>
      tf.tidy(() => {
        const logits = model.forward(ids, { attentionMask: mask }).logits;
        const logp = tf.logSoftmax(tf.slice(logits, [0, 0, 0], [-1, IDS[0].length - 1, -1]));
        const targets = tf.oneHot(tf.slice(ids, [0, 1], [-1, -1]), CFG.vocab_size);
        const m = tf.cast(tf.slice(mask, [0, 1], [-1, -1]), 'float32');
        return tf.neg(tf.div(tf.sum(tf.mul(tf.sum(tf.mul(logp, targets), -1), m)), tf.sum(m))) as tf.Scalar;
      });
    const logits = tf.tidy(() => model.forward(ids, { attentionMask: mask }).logits);
    const vars = [...model.weights()];
    const { value, grads } = tf.variableGrads(
      loss,
      vars.map(([, v]) => v),
    );
    const out = {
      logits: await logits.data(),
      loss: (await value.data())[0],
      grads: new Map<string, Float32Array>(),
    };
    for (const [name, v] of vars) out.grads.set(name, (await grads[v.name].data()) as Float32Array);
    tf.dispose([logits, value, ids, mask, ...Object.values(grads)]);
    return out;
  } finally {
    model.dispose();
  }
}

function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

describe.skipIf(!!unavailable)('webgpu backend (Dawn) matches cpu', () => {
  afterAll(async () => {
    await initBackend('cpu');
  });

  it('reports the adapter it runs on', async () => {
    const info = await initBackend('webgpu');
    expect(info.tfjsBackend).toBe('webgpu');
    expect(info.gpu?.description).toBeTruthy();
    expect(info.label).toBe(info.gpu!.software ? 'webgpu-software' : 'webgpu');
  });

  it('logits and every weight gradient of a Qwen2-shaped model', async () => {
    await initBackend('cpu');
    const init = CausalLM.create(CFG, 11);
    const weights = await init.stateDict();
    init.dispose();
    const cpu = await forwardBackward(weights);
    await initBackend('webgpu');
    const gpu = await forwardBackward(weights);
    expect(relDiff(gpu.logits, cpu.logits)).toBeLessThan(1e-4);
    expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4);
    expect(gpu.grads.size).toBe(cpu.grads.size);
    for (const [name, g] of cpu.grads) expect(relDiff(gpu.grads.get(name)!, g), name).toBeLessThan(1e-3);
  });

  describe('the trainer', () => {
    let primed: string;
    beforeAll(async () => {
      await initBackend('cpu');
      ({ primed } = await writePrimedModelDir(mkdtempSync(join(tmpdir(), 'popo-webgpu-'))));
    });

    async function popo(backend: 'cpu' | 'webgpu') {
      const steps: StepMetrics[] = [];
      const res = await train(
        resolveConfig({
          algorithm: 'popo',
          seed: 7,
          steps: 3,
          backend,
          model: { path: primed },
          data: { train: ONES, reward: 'exact' },
          sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 3, temperature: 2 },
          optimizer: { lr: 0.01 },
          checkpoint_every: 0,
        }),
        { onStep: (m) => void steps.push(m) },
      );
      return { steps, backend: res.backend, final: res.final_checkpoint! };
    }

    it('three POPO steps: the same samples, losses, drift and parameters', async () => {
      const cpu = await popo('cpu');
      const gpu = await popo('webgpu');
      expect(gpu.backend).toMatch(/^webgpu/);
      expect(gpu.steps).toHaveLength(3);
      const updated = cpu.steps.filter((m) => m.algorithm === 'popo' && m.positive_fraction > 0);
      expect(updated.length, 'steps with positives (the test needs real updates)').toBeGreaterThan(0);
      const keys = ['reward_mean', 'loss', 'nll', 'l_sim', 'l_ent', 'entropy', 'drift', 'grad_norm'] as const;
      cpu.steps.forEach((c, i) => {
        const g = gpu.steps[i] as unknown as Record<string, number>;
        const cr = c as unknown as Record<string, number>;
        for (const k of keys) expect(g[k], `step ${c.step} ${k}`).toBeCloseTo(cr[k], 3);
      });
      const [pc, pg] = [decodeCheckpoint(cpu.final).policy!, decodeCheckpoint(gpu.final).policy!];
      for (const [name, rec] of pc) expect(relDiff(pg.get(name)!.data, rec.data), name).toBeLessThan(1e-3);
    });
  });
});
