import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { decodeCheckpoint } from './checkpoint.js';
import { resolveConfig } from './config.js';
import { ONES, writePrimedModelDir } from './primed-model-dir.js';
import { loadPretrained } from '../model/pretrained.js';
import { train } from './train.js';
import type { GrpoMetrics, PopoMetrics, SftMetrics } from './metrics.js';
import type { CheckpointBlob, StepMetrics, TrainConfig } from './types.js';

const train_ = train;

let modelDir: string;
beforeAll(async () => {
  await initBackend('cpu');
  ({ primed: modelDir } = await writePrimedModelDir(mkdtempSync(join(tmpdir(), 'popo-train-'))));
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

const CORE = [
  'step',
  'algorithm',
  'loss',
  'grad_norm',
  'lr',
  'completion_length',
  'tokens_per_second',
  'step_seconds',
  'backend',
];
const ROLLOUT = [...CORE, 'reward_mean', 'pass_rate', 'zero_correct_group_fraction', 'entropy'];
/** Each algorithm's record: the common core plus its own fields, and nothing of another algorithm's. */
const FIELDS = {
  popo: [
    ...ROLLOUT,
    ...['nll', 'l_sim', 'l_ent', 'positive_fraction', 'zero_positive_group_fraction'],
    ...['mean_positive_set_size', 'drift', 'drift_bound'],
  ],
  grpo: [
    ...ROLLOUT,
    ...['pg_loss', 'kl', 'clip_fraction', 'low_clip_fraction', 'high_clip_fraction', 'ratio_mean'],
    ...['mean_advantage', 'mean_abs_advantage', 'zero_advantage_group_fraction'],
  ],
  sft: CORE,
};

interface ByAlgorithm {
  popo: PopoMetrics;
  grpo: GrpoMetrics;
  sft: SftMetrics;
}

/** The records of one algorithm's run, checking that every one of them is that algorithm's. */
function only<A extends keyof ByAlgorithm>(algorithm: A, metrics: StepMetrics[]): ByAlgorithm[A][] {
  expect(metrics.map((m) => m.algorithm)).toEqual(metrics.map(() => algorithm));
  return metrics as ByAlgorithm[A][];
}

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
      for (const m of full.metrics) {
        expect(Object.keys(m).sort()).toEqual([...FIELDS[algorithm]].sort());
        for (const [k, v] of Object.entries(m))
          if (k !== 'backend' && k !== 'algorithm') expect(Number.isFinite(v), k).toBe(true);
      }
      only(algorithm, full.metrics);
      const at2 = full.checkpoints.find((k) => k.step === 2)!;
      expect(at2).toBeDefined();
      const resumed = await run(c, at2);
      expect(resumed.metrics.map((m) => m.step)).toEqual([3, 4]);
      expect(resumed.metrics.map(comparable)).toEqual(full.metrics.slice(2).map(comparable));
      // The final weights agree too, not only the logged numbers.
      const a = decodeCheckpoint(full.result.final_checkpoint!).policy!;
      const b = decodeCheckpoint(resumed.result.final_checkpoint!).policy!;
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
      expect(last.state.tensors.reference!.size).toBe(last.policy!.size);
      expect(only('grpo', full.metrics).some((m) => m.kl > 0)).toBe(true);
    }
  });

  it('the no-EMA ablation keeps ξ at the initial policy while θ moves', async () => {
    const { checkpoints } = await run(config('popo', { popo: { ema: false } }));
    const first = decodeCheckpoint(checkpoints[0]);
    const last = decodeCheckpoint(checkpoints.at(-1)!);
    const name = [...last.policy!.keys()][0];
    expect(Array.from(last.state.tensors.siamese!.get(name)!.data)).toEqual(
      Array.from(first.state.tensors.siamese!.get(name)!.data),
    );
    expect(Array.from(last.policy!.get(name)!.data)).not.toEqual(Array.from(first.policy!.get(name)!.data));
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
    for (const [name, rec] of last.policy!)
      expect(Array.from(rec.data), name).toEqual(Array.from(initial.get(name)!.data));
    for (const [name, rec] of last.state.tensors.siamese!)
      expect(Array.from(rec.data), name).toEqual(Array.from(initial.get(name)!.data));
    expect(last.state.scalars.optimizer_step).toBe(0);
    expect(events.filter((c) => c === 'no_positives_step_skipped')).toHaveLength(2);
    expect(metrics.map((m) => m.grad_norm)).toEqual([0, 0]);
    expect(only('popo', metrics).every((m) => m.entropy > 0)).toBe(true); // still measured
  });

  it('POPO takes its positives at popo.positive_threshold', async () => {
    const at = async (positive_threshold: number) => {
      const metrics: StepMetrics[] = [];
      const events: string[] = [];
      await train(config('popo', { steps: 3, popo: { positive_threshold } }), {
        onStep: (m) => void metrics.push(m),
        onEvent: (e) => void events.push(e.code),
      });
      return {
        metrics: only('popo', metrics),
        skipped: events.filter((c) => c === 'no_positives_step_skipped'),
      };
    };
    // At the default 0.5 the 0/1 rewards' positives are exactly the correct completions.
    const half = await at(0.5);
    expect(half.metrics.map((m) => m.positive_fraction)).toEqual(half.metrics.map((m) => m.pass_rate));
    expect(half.metrics.some((m) => m.pass_rate > 0 && m.pass_rate < 1)).toBe(true);
    // At 0 every completion is positive, the wrong ones included.
    const all = await at(0);
    expect(all.metrics.some((m) => m.pass_rate < 1)).toBe(true);
    expect(all.metrics.map((m) => m.positive_fraction)).toEqual([1, 1, 1]);
    expect(all.metrics.every((m) => m.grad_norm > 0)).toBe(true);
    expect(all.skipped).toHaveLength(0);
  });

  it('a POPO checkpoint holds θ, ξ, the predictor, optimizer moments and the random state', async () => {
    const { checkpoints, metrics } = await run(config('popo', { steps: 2 }));
    const c = decodeCheckpoint(checkpoints.at(-1)!);
    expect(c.step).toBe(2);
    const { siamese, predictor, optimizer } = c.state.tensors;
    expect(siamese!.size).toBe(c.policy!.size);
    expect([...predictor!.keys()]).toEqual(
      expect.arrayContaining(['predictor.fc1.weight', 'predictor.fc2.weight']),
    );
    expect(optimizer!.size).toBe(2 * (c.policy!.size + predictor!.size));
    expect(c.state.scalars.optimizer_step).toBe(2);
    expect(c.rng.state).toHaveLength(4);
    // ξ moved toward θ but is not θ (τ < 1), and the drift stays under the Lemma 3.2 bound.
    const name = [...c.policy!.keys()][0];
    expect(Array.from(siamese!.get(name)!.data)).not.toEqual(Array.from(c.policy!.get(name)!.data));
    for (const m of only('popo', metrics))
      expect(m.drift).toBeLessThanOrEqual(m.drift_bound * (1 + 1e-4) + 1e-6);
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

describe('eval.stop_at', () => {
  const frozen = { optimizer: { lr: 1e-9 } };
  const evalAt = { n: 1, k: 1, max_examples: 4 };
  it('ends the run as completed at the first periodic eval that reaches the target, and only then', async () => {
    const evals: number[] = [];
    const codes: string[] = [];
    const hooks = {
      onEval: (e: { avg_at_k: number }) => void evals.push(e.avg_at_k),
      onEvent: (e: { code: string }) => void codes.push(e.code),
    };
    const stopped = await train(
      config('sft', { ...frozen, steps: 6, eval_every: 2, eval: { ...evalAt, stop_at: 0.5 } }),
      hooks,
    );
    // The primed policy answers "1" greedily and lr ≈ 0 keeps it so: the first periodic eval (step 2) reaches 0.5.
    expect(evals[1]).toBeGreaterThanOrEqual(0.5);
    expect(stopped.status).toBe('completed');
    expect(stopped.steps_done).toBe(2);
    expect(stopped.eval_after).toMatchObject({ step: 2, avg_at_k: evals[1] });
    expect(evals).toHaveLength(2); // before, step 2: the stop reuses that eval instead of repeating it
    expect(codes).toContain('eval_target_reached');
    expect(decodeCheckpoint(stopped.final_checkpoint!).step).toBe(2);

    const unreachable = await train(
      config('sft', { ...frozen, steps: 4, eval_every: 2, eval: { ...evalAt, temperature: 4, stop_at: 1 } }),
    );
    // At T = 4 the sampled answers are rarely all right: no eval reaches 1, so the run goes the whole way.
    expect(unreachable.eval_after!.avg_at_k).toBeLessThan(1);
    expect(unreachable.steps_done).toBe(4);
  });
});
