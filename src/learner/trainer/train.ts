import * as tf from '@tensorflow/tfjs-core';
import { formatBackendInfo, initBackend } from '../backend.js';
import type { CausalLM } from '../model/causal-lm.js';
import { popoWarnings } from '../objectives/popo.js';
import { Rng } from '../util/random.js';
import { buildSequenceBatch } from './batch.js';
import {
  assignRecords,
  decodeCheckpoint,
  encodeCheckpoint,
  variableRecords,
  type CheckpointContents,
} from './checkpoint.js';
import { loadTrainingData, type TrainingData } from './data-source.js';
import { DriftBoundTracker, emaUpdate, paramDistance } from './ema.js';
import { evaluatePolicy } from './evaluate.js';
import { zeroMetrics } from './metrics.js';
import { AdamW, learningRate } from './optimizer.js';
import { encodePrompt, loadPolicy, policyFromCheckpoint, type Policy } from './policy-source.js';
import { Predictor } from './predictor.js';
import { rollout } from './rollout.js';
import { grpoStep, popoStep, sftStep, type ParamSet, type StepOutcome } from './steps.js';
import type {
  CheckpointBlob,
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
}

/** Mutable state of a run; everything in it goes into checkpoints. */
interface RunState {
  config: TrainConfig;
  backend: string;
  policy: Policy;
  siamese?: CausalLM;
  reference?: CausalLM;
  predictor?: Predictor;
  params: ParamSet;
  optimizer: AdamW;
  rng: Rng;
  drift: DriftBoundTracker;
  data: TrainingData;
  step: number;
}

const isRl = (c: TrainConfig) => c.algorithm !== 'sft';

async function setUp(config: TrainConfig, backend: string, opts: TrainOptions): Promise<RunState> {
  const resume = opts.resumeFrom ? decodeCheckpoint(opts.resumeFrom) : undefined;
  const base = !resume && opts.baseCheckpoint ? decodeCheckpoint(opts.baseCheckpoint) : undefined;
  const from = resume ?? base;
  const policy = from ? policyFromCheckpoint(from) : await loadPolicy(config.model, config.seed);
  const data = loadTrainingData(config);

  const params: ParamSet = new Map(policy.model.weights());
  let siamese: CausalLM | undefined;
  let predictor: Predictor | undefined;
  let reference: CausalLM | undefined;
  if (config.algorithm === 'popo') {
    // ξ starts as θ; a resumed run overwrites it below with the checkpointed ξ.
    siamese = policy.model.clone();
    predictor = new Predictor({
      inputDim: policy.model.config.hidden_size as number,
      hiddenDim: config.popo.predictor_dim,
      seed: config.seed + 1,
    });
    for (const [name, v] of predictor.variables()) params.set(name, v);
  }
  if (config.algorithm === 'grpo' && config.grpo.kl_beta > 0) reference = policy.model.clone();

  const optimizer = new AdamW(params, config.optimizer);
  const rng = new Rng(config.seed);
  const drift = new DriftBoundTracker(config.popo.ema ? config.popo.tau : 1);
  const state: RunState = {
    config,
    backend,
    policy,
    siamese,
    reference,
    predictor,
    params,
    optimizer,
    rng,
    drift,
    data,
    step: 0,
  };
  if (resume) restore(state, resume);
  return state;
}

function restore(s: RunState, c: CheckpointContents): void {
  if (s.siamese) {
    if (!c.siamese) throw new Error('checkpoint has no siamese policy ξ: it was not written by a POPO run');
    s.siamese.loadStateDict(c.siamese, 'checkpoint ξ');
  }
  if (s.reference) {
    // The reference is the run's *base* policy, not the θ being resumed.
    if (!c.reference)
      throw new Error('checkpoint has no GRPO reference policy: it was written without kl_beta');
    s.reference.loadStateDict(c.reference, 'checkpoint reference');
  }
  if (s.predictor && c.predictor) assignRecords(s.predictor.variables(), c.predictor, 'checkpoint predictor');
  if (c.optimizer) {
    const moments = new Map([...c.optimizer].map(([k, r]) => [k, tf.tensor(r.data, r.shape)] as const));
    s.optimizer.loadState(moments, c.optimizerStep);
    tf.dispose([...moments.values()]);
  }
  s.rng = Rng.fromState(c.rng);
  s.drift.maxUpdateNorm = c.gMax;
  s.step = c.step;
}

async function snapshot(s: RunState): Promise<CheckpointBlob> {
  return encodeCheckpoint({
    step: s.step,
    config: s.config,
    modelConfig: s.policy.model.config,
    tokenizer: s.policy.tokenizerSpec,
    rng: s.rng.state(),
    optimizerStep: s.optimizer.stepCount,
    gMax: s.drift.maxUpdateNorm,
    policy: await s.policy.model.stateDict(),
    siamese: s.siamese ? await s.siamese.stateDict() : undefined,
    reference: s.reference ? await s.reference.stateDict() : undefined,
    predictor: s.predictor ? await variableRecords(s.predictor.variables()) : undefined,
    optimizer: await variableRecords(s.optimizer.stateTensors()),
  });
}

/** One RL step: sample B prompts × G completions, verify, update θ (and φ), then ξ. */
async function rlStep(
  s: RunState,
  lr: number,
): Promise<{ outcome: StepOutcome; roll: Awaited<ReturnType<typeof rollout>>; events: TrainEvent[] }> {
  const { config } = s;
  const prompts = Array.from(
    { length: config.sampling.prompts_per_step },
    () => s.data.train[s.rng.int(s.data.train.length)],
  );
  const roll = await rollout(s.policy, prompts, config.sampling, s.data.reward, s.rng);
  const batch = buildSequenceBatch(roll.promptIds, roll.completionIds, s.policy.tokenizer.padId);
  const events: TrainEvent[] = [];
  let outcome: StepOutcome;
  if (config.algorithm === 'popo') {
    const noiseSeed = s.rng.int(2 ** 31);
    const r = await popoStep(config, s.optimizer, s.params, lr, {
      policy: s.policy.model,
      siamese: s.siamese!,
      predictor: s.predictor!,
      batch,
      rewards: roll.rewards,
      noiseSeed,
    });
    outcome = r;
    outcome.stats.zero_positive_group_fraction = r.popo.zeroPositiveFraction;
    outcome.stats.mean_positive_set_size = r.popo.meanPositiveSetSize;
    for (const w of popoWarnings(r.popo))
      events.push({ level: 'warning', code: w.code, message: w.message, step: s.step + 1 });
    if (r.skipped) {
      events.push({
        level: 'warning',
        code: 'no_positives_step_skipped',
        message: 'no completion in the batch was correct: nothing to learn from, the update was skipped',
        step: s.step + 1,
      });
    } else if (config.popo.ema) {
      const xi = s.siamese!.weights();
      const theta = s.policy.model.weights();
      emaUpdate(
        [...xi.values()],
        [...xi.keys()].map((k) => theta.get(k)!),
        config.popo.tau,
      );
    }
  } else {
    outcome = await grpoStep(config, s.optimizer, s.params, lr, {
      policy: s.policy.model,
      reference: s.reference,
      batch,
      rewards: roll.rewards,
    });
  }
  return { outcome, roll, events };
}

async function sftBatchStep(s: RunState, lr: number): Promise<{ outcome: StepOutcome; tokens: number }> {
  const { config } = s;
  const tok = s.policy.tokenizer;
  const size = config.sft?.batch_size ?? 32;
  const rows = Array.from({ length: size }, () => s.data.sftPairs[s.rng.int(s.data.sftPairs.length)]);
  const promptIds = rows.map((r) => encodePrompt(tok, r.prompt));
  const completionIds = rows.map((r) => [...tok.encode(r.completion), tok.eosId]);
  const batch = buildSequenceBatch(promptIds, completionIds, tok.padId);
  const outcome = await sftStep(s.optimizer, s.params, lr, s.policy.model, batch);
  return { outcome, tokens: batch.n * (batch.length + 1) };
}

function driftNow(s: RunState): number {
  if (!s.siamese) return 0;
  const xi = s.siamese.weights();
  const theta = s.policy.model.weights();
  return paramDistance(
    [...theta.values()],
    [...theta.keys()].map((k) => xi.get(k)!),
  );
}

async function evaluateAt(s: RunState, step: number, hooks: TrainHooks): Promise<EvalResult | undefined> {
  if (!s.data.test.length) return undefined;
  // Its own random stream, so evaluating never changes what training samples next.
  const res = await evaluatePolicy(s.policy, s.data.test, s.data.reward, {
    ...s.config.eval,
    maxNewTokens: s.config.sampling.max_new_tokens,
    seed: s.config.seed * 1_000_003 + step,
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
 * The one loop for POPO, GRPO and SFT: rollouts → rewards → loss → AdamW → EMA → metrics → checkpoint.
 * Deterministic for a seed and backend, including across a checkpoint/resume boundary.
 */
export async function train(
  config: TrainConfig,
  hooks: TrainHooks = {},
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const info = await initBackend(config.backend);
  const s = await setUp(config, info.label, opts);
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
      result.eval_before = await evaluateAt(s, 0, hooks);
    }
    let lastCheckpoint = s.step;
    while (s.step < config.steps) {
      const stop = await hooks.shouldStop?.();
      if (stop) {
        result.status = stop === 'cancel' ? 'cancelled' : 'paused';
        break;
      }
      const started = performance.now();
      const lr = learningRate(config.optimizer, s.step + 1, config.steps);
      let metrics: StepMetrics;
      if (isRl(config)) {
        const { outcome, roll, events } = await rlStep(s, lr);
        s.step += 1;
        const seconds = (performance.now() - started) / 1000;
        const updateBound = s.drift.observe(outcome.updateNorm);
        const n = roll.rewards.length;
        const correct = roll.correct.filter(Boolean).length;
        const genTokens = roll.completionIds.reduce((a, c) => a + c.length, 0);
        metrics = {
          step: s.step,
          reward_mean: roll.rewards.reduce((a, b) => a + b, 0) / n,
          pass_rate: correct / n,
          positive_fraction: roll.rewards.filter((r) => r >= 0.5).length / n,
          zero_positive_group_fraction: roll.zeroPositiveGroupFraction,
          mean_positive_set_size: roll.meanPositiveSetSize,
          entropy: outcome.stats.entropy ?? 0,
          nll: outcome.stats.nll ?? 0,
          l_sim: outcome.stats.l_sim ?? 0,
          l_ent: outcome.stats.l_ent ?? 0,
          loss: outcome.stats.loss ?? 0,
          grad_norm: outcome.gradNorm,
          lr,
          drift: driftNow(s),
          drift_bound: config.algorithm === 'popo' ? updateBound : 0,
          completion_length: genTokens / n,
          tokens_per_second: genTokens / seconds,
          step_seconds: seconds,
          backend: info.label,
        };
        for (const [k, v] of Object.entries(outcome.stats)) if (!(k in metrics)) metrics[k] = v;
        for (const e of events) await emit(e);
      } else {
        const { outcome, tokens } = await sftBatchStep(s, lr);
        s.step += 1;
        const seconds = (performance.now() - started) / 1000;
        metrics = zeroMetrics(s.step, info.name, {
          nll: outcome.stats.nll,
          loss: outcome.stats.loss,
          grad_norm: outcome.gradNorm,
          lr,
          tokens_per_second: tokens / seconds,
          step_seconds: seconds,
        });
      }
      await hooks.onStep?.(metrics);
      if (config.checkpoint_every > 0 && s.step % config.checkpoint_every === 0 && s.step < config.steps) {
        await hooks.onCheckpoint?.(await snapshot(s));
        lastCheckpoint = s.step;
      }
      if (config.eval_every > 0 && s.step % config.eval_every === 0 && s.step < config.steps)
        await evaluateAt(s, s.step, hooks);
    }
    result.steps_done = s.step;
    if (s.step !== lastCheckpoint || result.status === 'completed') {
      result.final_checkpoint = await snapshot(s);
      await hooks.onCheckpoint?.(result.final_checkpoint);
    }
    if (result.status === 'completed') result.eval_after = await evaluateAt(s, s.step, hooks);
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
  s.optimizer.dispose();
  s.predictor?.dispose();
  s.siamese?.dispose();
  s.reference?.dispose();
  s.policy.model.dispose();
}
