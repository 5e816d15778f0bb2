import * as tf from '@tensorflow/tfjs-core';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { generateChunked } from '../sampling/chunked.js';
import { Rng } from '../util/random.js';
import { createAlgorithm } from './algorithms/index.js';
import { buildSequenceBatch } from './batch.js';
import { attachFreshLora } from './policy-source.js';
import type { TrainConfig } from './types.js';

/**
 * The wasm module's heap size in bytes, or undefined on another backend. The heap only grows (emscripten never
 * returns memory), so read after a step it is that step's high-water mark, over-grown by at most 96 MiB (the
 * module grows by 20% of its size, capped at the request + 96 MiB).
 */
export function wasmHeapBytes(): number | undefined {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } };
  return backend.wasm?.HEAPU8.buffer.byteLength;
}

export interface StepMeasurement {
  /** Heap before the model was built (the backend's own use). */
  baseHeap?: number;
  /** Heap high-water after the step. */
  heap?: number;
  /** tf.profile's peak of tracked tensor bytes (counts a variable and its initial value twice: high). */
  tensorPeak: number;
  generateSeconds: number;
  updateSeconds: number;
}

/**
 * One rollout step of a random model, measured: G completions of one prompt generated to max_new_tokens (no EOS),
 * then the algorithm's update with mixed rewards (half positive). For bench/scale.ts and the estimate's test.
 */
export async function measureRolloutStep(
  modelConfig: ModelConfig,
  config: TrainConfig,
  promptTokens: number,
  { seed = 1, onPhase }: { seed?: number; onPhase?: (phase: string) => void } = {},
): Promise<StepMeasurement> {
  const baseHeap = wasmHeapBytes();
  onPhase?.('random weights');
  const model = CausalLM.create(modelConfig, seed);
  attachFreshLora(model, config);
  const algorithm = createAlgorithm(config, model);
  if (algorithm.experience !== 'rollout')
    throw new Error('measureRolloutStep: a rollout algorithm is needed');
  try {
    const rng = new Rng(seed + 1);
    const vocab = model.dims.vocab;
    const G = config.sampling.group_size;
    const prompt = Array.from({ length: promptTokens }, () => 3 + rng.int(vocab - 3));
    onPhase?.(`generating ${G} × ${config.sampling.max_new_tokens} tokens`);
    const t0 = performance.now();
    const gen = await tf.profile(async () => {
      await generateChunked(model, [prompt], {
        rng,
        maxNewTokens: config.sampling.max_new_tokens,
        numReturnSequences: G,
        temperature: 1,
        eosTokenId: null,
        padTokenId: 0,
      });
      return [] as tf.Tensor[];
    });
    const t1 = performance.now();
    const completions = Array.from({ length: G }, () =>
      Array.from({ length: config.sampling.max_new_tokens }, () => 3 + rng.int(vocab - 3)),
    );
    const batch = buildSequenceBatch(
      completions.map(() => prompt),
      completions,
      0,
    );
    const rewards = completions.map((_, i) => (i % 2 === 0 ? 1 : 0));
    onPhase?.(`${config.algorithm} update`);
    const upd = await tf.profile(async () => {
      await algorithm.step(
        {
          rollout: {
            promptIds: [],
            completionIds: completions,
            texts: [],
            rewards,
            correct: rewards.map(Boolean),
          },
          batch,
          prompts: [],
        },
        { lr: config.optimizer.lr, rng },
      );
      return [] as tf.Tensor[];
    });
    const t2 = performance.now();
    return {
      baseHeap,
      heap: wasmHeapBytes(),
      tensorPeak: Math.max(gen.peakBytes, upd.peakBytes),
      generateSeconds: (t1 - t0) / 1000,
      updateSeconds: (t2 - t1) / 1000,
    };
  } finally {
    algorithm.dispose();
    model.dispose();
  }
}
