/**
 * The CPU regime where RL visibly works in seconds, shared by the learning tests (test/learning/) and the POPO vs
 * GRPO experiment (bench/experiment.ts).
 *
 * Task: `reverse` (write a number's digits backwards). A 2-layer, 64-wide char transformer trained by SFT for a
 * few hundred steps gets most held-out problems right greedily but samples them badly at temperature 1 (its
 * per-digit distributions are still broad): a weak but not hopeless base, with a sampled pass rate of ~30%, so
 * most groups of G = 8 hold a positive. RL from the verifier's reward then has signal, and the held-out sampled
 * pass rate (avg@4 at T = 1) is the number it moves most.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint } from '../src/learner/trainer/checkpoint.js';
import { resolveConfig } from '../src/learner/trainer/config.js';
import { loadTrainingData } from '../src/learner/trainer/data-source.js';
import { evaluatePolicy } from '../src/learner/trainer/evaluate.js';
import { policyFromCheckpoint } from '../src/learner/trainer/policy-source.js';
import { writeTinyModelDir } from '../src/learner/trainer/tiny-model-dir.js';
import { isRlMetrics } from '../src/learner/trainer/metrics.js';
import { train } from '../src/learner/trainer/train.js';
import type {
  CheckpointBlob,
  EvalResult,
  Example,
  RlMetrics,
  TrainConfig,
  TrainHooks,
} from '../src/learner/trainer/types.js';

type Backend = NonNullable<TrainConfig['backend']>;

/** Model dimensions of the base (about 86k parameters: fast enough that SFT + RL fit in a test). */
export const REGIME_MODEL = { hidden: 64, layers: 2, heads: 4 };

export const REGIME_TASK = { name: 'reverse', difficulty: 2, n_train: 4000, n_test: 200 };

/** Held-out protocol: 200 test problems, 4 samples each at T = 1; avg@4 is the mean correctness of the 800. */
export const HELD_OUT_EVAL = { n: 4, k: 4, temperature: 1, max_examples: 200 };

/** One token per digit of the longest answer at a difficulty (2d + 2 digits), plus EOS. */
export const maxNewTokens = (difficulty: number) => 2 * difficulty + 3;

export interface BaseOptions {
  difficulty?: number;
  /** A fixed SFT budget (cosine schedule to 0) ... */
  sftSteps?: number;
  /**
   * ... or SFT at a constant rate until the sampled (T = 1) pass rate on 64 training problems × 4 samples reaches
   * this, checked every 10 steps, at most `sftSteps` (default 3000) steps. When a small model "gets" the task is
   * abrupt and varies with seed and difficulty (the loss can sit on a plateau for 200 or 1000 steps), so a fixed
   * budget gives bases from hopeless to solved; this gives bases that are equally weak where RL sees them.
   */
  targetPassRate?: number;
  seed?: number;
  backend?: Backend;
  dir?: string;
}

const CHECK_EVERY = 10;

/** SFT from a freshly initialised small model: the weak base. */
export function sftConfig(modelDir: string, o: BaseOptions = {}): TrainConfig {
  const difficulty = o.difficulty ?? REGIME_TASK.difficulty;
  const untilPassRate = o.targetPassRate !== undefined;
  return resolveConfig({
    algorithm: 'sft',
    seed: o.seed ?? 0,
    steps: o.sftSteps ?? (untilPassRate ? 3000 : 300),
    backend: o.backend ?? 'wasm',
    model: { path: modelDir },
    data: { task: { ...REGIME_TASK, difficulty } },
    sft: { batch_size: 32 },
    sampling: { max_new_tokens: maxNewTokens(difficulty) },
    optimizer: {
      lr: 3e-3,
      warmup_steps: 10,
      weight_decay: 0.01,
      schedule: 'cosine',
    },
    checkpoint_every: untilPassRate ? CHECK_EVERY : 0,
    eval: { n: 1, k: 1, temperature: 0, max_examples: REGIME_TASK.n_test },
  });
}

export interface Base {
  modelDir: string;
  checkpoint: CheckpointBlob;
  /** Greedy held-out pass rate of the base. */
  greedy: number;
  /** Sampled (T = 1) pass rate on the 64 training problems of the stopping rule (when used). */
  trainPassRate?: number;
  sftSteps: number;
  seconds: number;
}

export async function passRate(
  checkpoint: CheckpointBlob,
  config: TrainConfig,
  examples: Example[],
  s: { n: number; temperature: number },
): Promise<number> {
  const policy = await policyFromCheckpoint(decodeCheckpoint(checkpoint));
  try {
    const r = await evaluatePolicy(policy, examples, loadTrainingData(config).reward, {
      n: s.n,
      k: 1,
      temperature: s.temperature,
      max_examples: examples.length,
      maxNewTokens: config.sampling.max_new_tokens,
      seed: config.seed,
    });
    return r.avg_at_k;
  } finally {
    policy.model.dispose();
  }
}

/** Writes a fresh model (seeded) and trains it by SFT into the weak base. Deterministic for a seed and backend. */
export async function buildWeakBase(o: BaseOptions = {}): Promise<Base> {
  const started = performance.now();
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'popo-base-'));
  const modelDir = await writeTinyModelDir(join(dir, 'init'), o.seed ?? 0, REGIME_MODEL);
  const config = sftConfig(modelDir, o);
  const probe = loadTrainingData(config).train.slice(0, 64);
  let reached: { checkpoint: CheckpointBlob; rate: number } | undefined;
  const result = await train(config, {
    onCheckpoint: async (c) => {
      if (o.targetPassRate === undefined || reached) return;
      const rate = await passRate(c, config, probe, { n: 4, temperature: 1 });
      if (rate >= o.targetPassRate) reached = { checkpoint: c, rate };
    },
    shouldStop: () => (reached ? 'pause' : false),
  });
  const checkpoint = reached?.checkpoint ?? result.final_checkpoint;
  if (!checkpoint) throw new Error('SFT of the base ended without a final checkpoint');
  return {
    modelDir,
    checkpoint,
    greedy: await greedyPassRate(checkpoint, config),
    trainPassRate: reached?.rate,
    sftSteps: decodeCheckpoint(checkpoint).step,
    seconds: (performance.now() - started) / 1000,
  };
}

export interface RlOptions {
  difficulty?: number;
  steps?: number;
  seed?: number;
  lr?: number;
  backend?: Backend;
  evalEvery?: number;
  /** Any further config (e.g. `{ popo: { alpha: 0 } }`), merged last. */
  extra?: Record<string, unknown>;
}

/** RL on top of the base: B 16 × G 8 at T = 1, AdamW lr 1e-3 constant, clip 1; POPO at the paper's defaults. */
export function rlConfig(modelDir: string, algorithm: 'popo' | 'grpo', o: RlOptions = {}): TrainConfig {
  const difficulty = o.difficulty ?? REGIME_TASK.difficulty;
  const partial: Record<string, unknown> = {
    algorithm,
    seed: o.seed ?? 0,
    steps: o.steps ?? 60,
    backend: o.backend ?? 'wasm',
    model: { path: modelDir },
    data: { task: { ...REGIME_TASK, difficulty } },
    sampling: {
      group_size: 8,
      prompts_per_step: 16,
      max_new_tokens: maxNewTokens(difficulty),
      temperature: 1,
    },
    optimizer: { lr: o.lr ?? 1e-3, warmup_steps: 0, weight_decay: 0, clip_grad_norm: 1 },
    checkpoint_every: 0,
    eval_every: o.evalEvery ?? 0,
    eval: HELD_OUT_EVAL,
  };
  const extra = o.extra ?? {};
  for (const [k, v] of Object.entries(extra)) {
    const cur = partial[k];
    partial[k] =
      cur && typeof cur === 'object' && v && typeof v === 'object' ? { ...cur, ...(v as object) } : v;
  }
  return resolveConfig(partial);
}

/** Greedy held-out pass rate of a checkpoint's policy on the config's test split. */
export async function greedyPassRate(checkpoint: CheckpointBlob, config: TrainConfig): Promise<number> {
  const test = loadTrainingData(config).test.slice(0, config.eval.max_examples);
  return passRate(checkpoint, config, test, { n: 1, temperature: 0 });
}

export interface RlOutcome {
  config: TrainConfig;
  before: EvalResult;
  after: EvalResult;
  evals: EvalResult[];
  metrics: RlMetrics[];
  final: CheckpointBlob;
  seconds: number;
}

/** Runs RL from the base and returns the held-out evaluations before and after (and at every eval_every). */
export async function runRl(base: Base, config: TrainConfig, hooks: TrainHooks = {}): Promise<RlOutcome> {
  const started = performance.now();
  const metrics: RlMetrics[] = [];
  const evals: EvalResult[] = [];
  const result = await train(
    config,
    {
      ...hooks,
      onStep: async (m) => {
        if (isRlMetrics(m)) metrics.push(m);
        await hooks.onStep?.(m);
      },
      onEval: async (e) => {
        evals.push(e);
        await hooks.onEval?.(e);
      },
    },
    { baseCheckpoint: base.checkpoint },
  );
  if (!result.eval_before || !result.eval_after || !result.final_checkpoint) {
    throw new Error(`RL run ended ${result.status} without before/after evaluations`);
  }
  return {
    config,
    before: result.eval_before,
    after: result.eval_after,
    evals,
    metrics,
    final: result.final_checkpoint,
    seconds: (performance.now() - started) / 1000,
  };
}
