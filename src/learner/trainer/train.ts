import type { OutboundPolicy } from '../../common/ssrf-guard.js';
import { formatBackendInfo, initBackend } from '../backend.js';
import { groupCounts } from '../objectives/groups.js';
import { Rng } from '../util/random.js';
import { createAlgorithm, type RolloutExperience, type TrainingAlgorithm } from './algorithms/index.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.js';
import { baseModelRef, type BaseModelRef } from './checkpoint-base.js';
import { ConfigError } from './config.js';
import { longestTaskTexts, modelConfigOf } from './context-check.js';
import { runMemoryIssues } from './memory-check.js';
import { loadTrainingData, type TrainingData, withPromptPolicy } from './data-source.js';
import { evalMaxNewTokens, evaluatePolicy } from './evaluate.js';
import { sampleRollouts, sampleSupervised } from './experience.js';
import { learningRate } from './optimizer.js';
import {
  attachFreshLora,
  loadPolicy,
  policyFromCheckpoint,
  withPromptTemplate,
  type Policy,
} from './policy-source.js';
import {
  rewardComponentKey,
  type LoopMeasured,
  type RewardComponentKey,
  type RolloutMetrics,
} from './metrics.js';
import type {
  CheckpointBlob,
  CompletionSample,
  EvalResult,
  StepMetrics,
  TrainConfig,
  TrainEvent,
  TrainHooks,
  TrainResult,
} from './types.js';

export interface TrainOptions {
  /** Continue this run from one of its checkpoints: every piece of state is restored. */
  resumeFrom?: CheckpointBlob;
  /** Start a new run from the policy θ of another run's checkpoint. */
  baseCheckpoint?: CheckpointBlob;
  /** Which addresses a run's HTTP reward graders may reach (default: public addresses only). */
  outbound?: OutboundPolicy;
}

/**
 * Mutable state of a run; everything in it goes into checkpoints. The policy θ and the random stream are the
 * run's; everything else (optimizer, ξ, φ, reference) belongs to the algorithm object.
 */
interface RunState {
  config: TrainConfig;
  policy: Policy;
  /**
   * Under LoRA, where the frozen base comes from: checkpoints name it instead of storing it. Unset when it cannot
   * be named (the run started from another run's checkpoint, or resumed from one that stores its base).
   */
  base?: BaseModelRef;
  algorithm: TrainingAlgorithm;
  rng: Rng;
  data: TrainingData;
  step: number;
}

async function setUp(config: TrainConfig, opts: TrainOptions): Promise<RunState> {
  const resume = opts.resumeFrom ? decodeCheckpoint(opts.resumeFrom) : undefined;
  const base = !resume && opts.baseCheckpoint ? decodeCheckpoint(opts.baseCheckpoint) : undefined;
  const from = resume ?? base;
  const loaded = from ? await policyFromCheckpoint(from) : await loadPolicy(config.model, config.seed);
  let policy: Policy;
  let data: TrainingData;
  let baseRef = resume?.base;
  try {
    if (resume) {
      if (Boolean(resume.lora) !== Boolean(config.lora))
        throw new CheckpointError(
          config.lora
            ? 'the run has a lora section but the checkpoint holds no adapters'
            : 'the checkpoint holds LoRA adapters but the run has no lora section',
        );
    } else {
      // A run started from a LoRA run's checkpoint starts from that policy: its adapters merged into the base.
      loaded.model.mergeLora();
      if (config.lora && !base) baseRef = await baseModelRef(config.model, config.seed, loaded.model);
      attachFreshLora(loaded.model, config);
    }
    policy = withPromptTemplate(loaded, config.data.prompt_template);
    data = withPromptPolicy(loadTrainingData(config, opts.outbound), config, policy);
  } catch (e) {
    loaded.model.dispose();
    throw e;
  }
  const state: RunState = {
    config,
    policy,
    ...(baseRef ? { base: baseRef } : {}),
    algorithm: createAlgorithm(config, policy.model),
    rng: new Rng(config.seed),
    data,
    step: 0,
  };
  if (resume) {
    try {
      state.algorithm.loadState(resume.state);
    } catch (e) {
      dispose(state);
      throw e;
    }
    state.rng = Rng.fromState(resume.rng);
    state.step = resume.step;
  }
  return state;
}

async function snapshot(s: RunState): Promise<CheckpointBlob> {
  return encodeCheckpoint({
    step: s.step,
    config: s.config,
    modelConfig: s.policy.model.config,
    tokenizer: s.policy.tokenizerSpec,
    rng: s.rng.state(),
    ...(s.base ? { base: s.base } : { policy: await s.policy.model.stateDict() }),
    lora: await s.policy.model.lora?.stateDict(),
    state: await s.algorithm.saveState(),
  });
}

/**
 * One step: experience (rollouts and their rewards, or a supervised batch) → the algorithm's update → the
 * step's record (the loop's measurements plus what the algorithm reports).
 */
async function trainStep(
  s: RunState,
  backend: string,
): Promise<{ metrics: StepMetrics; events: TrainEvent[]; completions?: CompletionSample[] }> {
  const { config, algorithm, policy, data, rng } = s;
  const started = performance.now();
  const ctx = { lr: learningRate(config.optimizer, s.step + 1, config.steps), rng };
  let measured: LoopMeasurements;
  let out: Awaited<ReturnType<TrainingAlgorithm['step']>>;
  let completions: CompletionSample[] | undefined;
  if (algorithm.experience === 'rollout') {
    const exp = await sampleRollouts(policy, data, config.sampling, rng);
    out = await algorithm.step(exp, ctx);
    completions = completionSamples(exp, config.sampling.group_size, out.sampleWeights);
    const { rewards, correct, completionIds } = exp.rollout;
    const n = rewards.length;
    const tokens = completionIds.reduce((a, c) => a + c.length, 0);
    const seconds = (performance.now() - started) / 1000;
    measured = {
      step: s.step + 1,
      reward_mean: rewards.reduce((a, b) => a + b, 0) / n,
      pass_rate: correct.filter(Boolean).length / n,
      zero_correct_group_fraction: groupCounts(correct.map(Number), config.sampling.group_size)
        .zeroPositiveFraction,
      completion_length: tokens / n,
      ...rates(ctx.lr, tokens, seconds, backend),
      ...componentMeans(exp.rollout.components),
    };
  } else {
    const exp = sampleSupervised(policy, data, config.sft?.batch_size ?? 32, rng);
    out = await algorithm.step(exp, ctx);
    const { batch } = exp;
    const seconds = (performance.now() - started) / 1000;
    measured = {
      step: s.step + 1,
      completion_length: batch.completionTokens.reduce((a, b) => a + b, 0) / batch.n,
      // Trained positions, padding included: the work the step did.
      ...rates(ctx.lr, batch.n * (batch.length + 1), seconds, backend),
    };
  }
  s.step += 1;
  return {
    metrics: { ...measured, ...out.metrics } as StepMetrics,
    events: out.events.map((e) => ({ ...e, step: s.step })),
    completions,
  };
}

/** How many prompts' groups of completions a step hands to onCompletions (the first ones: no random draw). */
export const COMPLETION_GROUPS = 2;

function completionSamples(
  exp: RolloutExperience,
  groupSize: number,
  weights: ArrayLike<number> | undefined,
): CompletionSample[] {
  const { rollout, prompts } = exp;
  const rows = Math.min(rollout.texts.length, COMPLETION_GROUPS * groupSize);
  return Array.from({ length: rows }, (_, r) => {
    const example = prompts[Math.floor(r / groupSize)];
    return {
      group: Math.floor(r / groupSize),
      sample: r % groupSize,
      prompt: example.problem,
      answer: example.answer,
      completion: rollout.texts[r],
      reward: rollout.rewards[r],
      positive: rollout.correct[r],
      weight: weights ? weights[r] : null,
    };
  });
}

/** Each reward component's mean score over the step's completions, as `rewards/<name>`. */
function componentMeans(
  components: Record<string, number[]> | undefined,
): Record<RewardComponentKey, number> {
  return Object.fromEntries(
    Object.entries(components ?? {}).map(([name, v]) => [
      rewardComponentKey(name),
      v.reduce((a, b) => a + b, 0) / v.length,
    ]),
  );
}

/** The fields the loop measures; RL steps add the rollout's reward and pass rate. */
type LoopMeasurements =
  | Pick<RolloutMetrics, LoopMeasured>
  | Omit<Pick<RolloutMetrics, LoopMeasured>, 'reward_mean' | 'pass_rate' | 'zero_correct_group_fraction'>;

function rates(lr: number, tokens: number, seconds: number, backend: string) {
  return {
    lr,
    tokens_per_second: tokens / seconds,
    step_seconds: seconds,
    backend,
  };
}

async function evaluateAt(s: RunState, step: number, hooks: TrainHooks): Promise<EvalResult | undefined> {
  if (!s.data.test.length) return undefined;
  // Its own random stream, so evaluating never changes what training samples next.
  const res = await evaluatePolicy(s.policy, s.data.test, s.data.reward, {
    ...s.config.eval,
    maxNewTokens: evalMaxNewTokens(s.config),
    seed: s.config.seed * 1_000_003 + step,
    overlong: s.config.data.overlong,
  });
  const result: EvalResult = {
    step,
    n: res.n,
    k: res.k,
    pass_at_k: res.pass_at_k,
    avg_at_k: res.avg_at_k,
    examples: res.examples,
  };
  await hooks.onEval?.(result);
  return result;
}

/**
 * The one loop for POPO, GRPO and SFT: experience → algorithm step → metrics and events → checkpoint and eval
 * cadence, polling the stop signal between steps. What a step does to its state is the algorithm object's.
 * Deterministic for a seed and backend, including across a checkpoint/resume boundary.
 */
/**
 * Refuses, before any weights are loaded, a run whose peak memory exceeds the backend's limit (ConfigError naming
 * the fields to change): a worker fails the job at once and `popo train` exits 2, instead of the wasm heap
 * overflowing mid-step. The service makes the same check at job creation.
 */
function checkMemory(config: TrainConfig, backend: string): void {
  const model = modelConfigOf(config.model);
  if (!model) return;
  const lengths = { longestProblemChars: 0, longestTargetChars: 0 };
  const { task, train: rows = [], test = [] } = config.data;
  if (task) {
    const t = longestTaskTexts(task, config.seed);
    lengths.longestProblemChars = t.problem;
    lengths.longestTargetChars = t.target;
  }
  for (const e of [...rows, ...test]) {
    lengths.longestProblemChars = Math.max(lengths.longestProblemChars, e.problem.length);
    lengths.longestTargetChars = Math.max(lengths.longestTargetChars, (e.completion ?? e.answer).length);
  }
  const issues = runMemoryIssues({ ...config, backend }, model, lengths);
  if (issues.length) throw new ConfigError(issues);
}

export async function train(
  config: TrainConfig,
  hooks: TrainHooks = {},
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const info = await initBackend(config.backend);
  checkMemory(config, info.name);
  const s = await setUp(config, opts);
  const emit = async (e: TrainEvent) => hooks.onEvent?.(e);
  const result: TrainResult = { status: 'completed', steps_done: s.step, backend: info.label };
  try {
    if (s.step > 0) {
      await hooks.onResume?.(s.step);
      await emit({
        level: 'info',
        code: 'resumed',
        message: `resumed from the checkpoint of step ${s.step}`,
        step: s.step,
      });
    } else {
      await emit({
        level: 'info',
        code: 'started',
        message: `training on backend ${formatBackendInfo(info)}`,
        step: 0,
      });
      const over = s.data.overlong;
      if (over?.count) {
        await emit({
          level: 'warning',
          code: 'overlong_prompts',
          message:
            `${over.count} of ${over.total} training prompts are longer than ${over.limit} tokens: ` +
            (config.data.overlong === 'skip' ? 'skipped' : 'their first tokens are cut (truncate_left)'),
          step: 0,
        });
      }
      result.eval_before = await evaluateAt(s, 0, hooks);
    }
    let lastCheckpoint = s.step;
    let lastEval: EvalResult | undefined;
    while (s.step < config.steps) {
      const stop = await hooks.shouldStop?.();
      if (stop) {
        result.status = stop === 'cancel' ? 'cancelled' : 'paused';
        break;
      }
      const { metrics, events, completions } = await trainStep(s, info.label);
      for (const e of events) await emit(e);
      await hooks.onStep?.(metrics);
      if (completions) await hooks.onCompletions?.(s.step, completions);
      if (config.checkpoint_every > 0 && s.step % config.checkpoint_every === 0 && s.step < config.steps) {
        await hooks.onCheckpoint?.(await snapshot(s));
        lastCheckpoint = s.step;
      }
      if (config.eval_every > 0 && s.step % config.eval_every === 0 && s.step < config.steps) {
        const r = (lastEval = await evaluateAt(s, s.step, hooks));
        const target = config.eval.stop_at;
        if (r && target !== undefined && r.avg_at_k >= target) {
          await emit({
            level: 'info',
            code: 'eval_target_reached',
            message: `held-out avg@${r.k} ${r.avg_at_k.toFixed(3)} reached eval.stop_at ${target}: stopping early`,
            step: s.step,
          });
          break;
        }
      }
    }
    result.steps_done = s.step;
    if (s.step !== lastCheckpoint || result.status === 'completed') {
      result.final_checkpoint = await snapshot(s);
      await hooks.onCheckpoint?.(result.final_checkpoint);
    }
    // An early stop has just evaluated this very step.
    if (result.status === 'completed')
      result.eval_after = lastEval?.step === s.step ? lastEval : await evaluateAt(s, s.step, hooks);
    await emit({
      level: 'info',
      code: result.status,
      message: `${result.status} at step ${s.step}`,
      step: s.step,
    });
    return result;
  } finally {
    dispose(s);
  }
}

function dispose(s: RunState): void {
  s.algorithm.dispose();
  s.policy.model.dispose();
}
