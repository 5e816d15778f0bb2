import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { decodeCheckpoint } from './checkpoint.js';
import { resolveConfig } from './config.js';
import { writeTinyModelDir } from './tiny-model-dir.js';
import { loadPretrained } from '../model/pretrained.js';
import { exportPolicy } from './checkpoint.js';
import { train } from './train.js';
import type { CheckpointBlob, Example, StepMetrics, TrainConfig } from './types.js';

const train_ = train;

/** Every answer is "1": a few SFT steps make it likely but not certain, so rollout groups mix right and wrong. */
const ONES: Example[] = Array.from({ length: 16 }, (_, i) => ({
  id: String(i),
  problem: `${i}=`,
  answer: '1',
  completion: '1',
}));

let modelDir: string;
beforeAll(async () => {
  await initBackend('cpu');
  const dir = mkdtempSync(join(tmpdir(), 'popo-train-'));
  const random = await writeTinyModelDir(join(dir, 'random'));
  // A random policy almost never produces a correct answer, and POPO rightly skips batches without positives;
  // these tests need real updates, so they start from a briefly fine-tuned policy.
  const primed = await train(
    resolveConfig({
      algorithm: 'sft',
      steps: 40,
      backend: 'cpu',
      model: { path: random },
      data: { train: ONES, reward: 'exact' },
      sft: { batch_size: 8 },
      optimizer: { lr: 0.01 },
      checkpoint_every: 0,
    }),
  );
  modelDir = join(dir, 'primed');
  await exportPolicy(primed.final_checkpoint!, modelDir);
});

function config(algorithm: 'popo' | 'grpo' | 'sft', extra: object = {}): TrainConfig {
  return resolveConfig({
    algorithm,
    seed: 7,
    steps: 4,
    backend: 'cpu',
    model: { path: modelDir },
    data: { train: ONES, test: ONES.slice(0, 4), reward: 'exact' },
    sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 3, temperature: 2 },
    optimizer: { lr: 0.01 },
    sft: { batch_size: 4 },
    checkpoint_every: 2,
    eval: { n: 1, k: 1, temperature: 0, max_examples: 8 },
    ...extra,
  });
}

/** Wall-clock fields differ between any two runs; everything else must not. */
const comparable = (m: StepMetrics) => {
  const { step_seconds: _s, tokens_per_second: _t, ...rest } = m;
  return rest;
};

async function run(c: TrainConfig, resumeFrom?: CheckpointBlob) {
  const metrics: StepMetrics[] = [];
  const checkpoints: CheckpointBlob[] = [];
  const result = await train(
    c,
    { onStep: (m) => void metrics.push(m), onCheckpoint: (k) => void checkpoints.push(k) },
    { resumeFrom },
  );
  return { metrics, checkpoints, result };
}

describe('train', () => {
  it.each(['popo', 'grpo', 'sft'] as const)(
    '%s: resuming from step 2 gives the same metrics for steps 3 and 4',
    async (algorithm) => {
      const c = config(algorithm);
      const full = await run(c);
      expect(full.metrics.map((m) => m.step)).toEqual([1, 2, 3, 4]);
      const at2 = full.checkpoints.find((k) => k.step === 2)!;
      expect(at2).toBeDefined();
      const resumed = await run(c, at2);
      expect(resumed.metrics.map((m) => m.step)).toEqual([3, 4]);
      expect(resumed.metrics.map(comparable)).toEqual(full.metrics.slice(2).map(comparable));
      // The final weights agree too, not only the logged numbers.
      const a = decodeCheckpoint(full.result.final_checkpoint!).policy;
      const b = decodeCheckpoint(resumed.result.final_checkpoint!).policy;
      for (const [name, rec] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(rec.data));
    },
  );

  it.each([
    ['POPO without EMA (ξ frozen)', 'popo', { popo: { ema: false } }],
    ['POPO with the KL anchor', 'popo', { popo: { anchor: 'kl' } }],
    [
      'POPO with uniform weights and sequence-normalised NLL',
      'popo',
      { popo: { weight_mode: 'uniform', nll_norm: 'sequence' } },
    ],
    ['POPO with warmup + cosine', 'popo', { optimizer: { warmup_steps: 1, schedule: 'cosine' } }],
    [
      'GRPO with a k3 KL reference and μ = 2',
      'grpo',
      { grpo: { kl_beta: 0.1, mu: 2, scale_rewards: 'none' } },
    ],
  ] as const)('%s resumes exactly too', async (_name, algorithm, extra) => {
    const c = config(algorithm, extra);
    const full = await run(c);
    const resumed = await run(
      c,
      full.checkpoints.find((k) => k.step === 2)!,
    );
    expect(resumed.metrics.map(comparable)).toEqual(full.metrics.slice(2).map(comparable));
    const last = decodeCheckpoint(full.result.final_checkpoint!);
    if (algorithm === 'grpo') {
      // The reference is the base policy, kept in the checkpoint so a resumed run measures KL to the same thing.
      expect(last.reference!.size).toBe(last.policy.size);
      expect(full.metrics.some((m) => Number(m.kl) > 0)).toBe(true);
    }
  });

  it('the no-EMA ablation keeps ξ at the initial policy while θ moves', async () => {
    const { checkpoints } = await run(config('popo', { popo: { ema: false } }));
    const first = decodeCheckpoint(checkpoints[0]);
    const last = decodeCheckpoint(checkpoints.at(-1)!);
    const name = [...last.policy.keys()][0];
    expect(Array.from(last.siamese!.get(name)!.data)).toEqual(Array.from(first.siamese!.get(name)!.data));
    expect(Array.from(last.policy.get(name)!.data)).not.toEqual(Array.from(first.policy.get(name)!.data));
  });

  it('a POPO batch without a single positive moves nothing: θ, ξ and the optimizer stay put', async () => {
    // Answers the 3-token completions can never produce: every reward is 0.
    const train = Array.from({ length: 8 }, (_, i) => ({
      id: String(i),
      problem: `${i}+1=`,
      answer: 'unreachable',
    }));
    const events: string[] = [];
    const checkpoints: CheckpointBlob[] = [];
    const metrics: StepMetrics[] = [];
    await train_(config('popo', { steps: 2, data: { train, reward: 'exact' } }), {
      onEvent: (e) => void events.push(e.code),
      onCheckpoint: (k) => void checkpoints.push(k),
      onStep: (m) => void metrics.push(m),
    });
    const last = decodeCheckpoint(checkpoints.at(-1)!);
    const base = await loadPretrained(modelDir);
    const initial = await base.stateDict();
    base.dispose();
    for (const [name, rec] of last.policy)
      expect(Array.from(rec.data), name).toEqual(Array.from(initial.get(name)!.data));
    for (const [name, rec] of last.siamese!)
      expect(Array.from(rec.data), name).toEqual(Array.from(initial.get(name)!.data));
    expect(last.optimizerStep).toBe(0);
    expect(events.filter((c) => c === 'no_positives_step_skipped')).toHaveLength(2);
    expect(metrics.map((m) => m.grad_norm)).toEqual([0, 0]);
    expect(metrics.every((m) => m.entropy > 0)).toBe(true); // still measured
  });

  it('a POPO checkpoint holds θ, ξ, the predictor, optimizer moments and the random state', async () => {
    const { checkpoints, metrics } = await run(config('popo', { steps: 2 }));
    const c = decodeCheckpoint(checkpoints.at(-1)!);
    expect(c.step).toBe(2);
    expect(c.siamese!.size).toBe(c.policy.size);
    expect([...c.predictor!.keys()]).toEqual(
      expect.arrayContaining(['predictor.fc1.weight', 'predictor.fc2.weight']),
    );
    expect(c.optimizer!.size).toBe(2 * (c.policy.size + c.predictor!.size));
    expect(c.optimizerStep).toBe(2);
    expect(c.rng.state).toHaveLength(4);
    // ξ moved toward θ but is not θ (τ < 1), and the drift stays under the Lemma 3.2 bound.
    const name = [...c.policy.keys()][0];
    expect(Array.from(c.siamese!.get(name)!.data)).not.toEqual(Array.from(c.policy.get(name)!.data));
    for (const m of metrics) expect(m.drift).toBeLessThanOrEqual(m.drift_bound * (1 + 1e-4) + 1e-6);
  });

  it('a corrupt checkpoint is refused by its sha256', async () => {
    const { checkpoints } = await run(config('sft', { steps: 2 }));
    const bad = { ...checkpoints[0], bytes: checkpoints[0].bytes.slice() };
    bad.bytes[bad.bytes.length - 1] ^= 0xff;
    await expect(run(config('sft'), bad)).rejects.toThrow(/sha256/);
  });

  it('stops when asked, leaving a checkpoint of the last step', async () => {
    const seen: number[] = [];
    let calls = 0;
    const result = await train(config('popo', { steps: 10, checkpoint_every: 0 }), {
      shouldStop: () => (++calls > 2 ? 'pause' : false),
      onCheckpoint: (k) => void seen.push(k.step),
    });
    expect(result.status).toBe('paused');
    expect(result.steps_done).toBe(2);
    expect(seen).toEqual([2]);
  });

  it('leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await run(config('popo', { steps: 2 }));
    expect(tf.memory().numTensors).toBe(before);
  });
});
