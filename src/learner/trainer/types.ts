/**
 * The trainer's public contract: what the CLI, the worker and tests pass in and get back.
 * Field names are snake_case where they mirror hyperparameters users write in YAML / JSON job specs.
 */

export type Algorithm = 'popo' | 'grpo' | 'sft';

export interface PopoParams {
  alpha: number; // weight of L_sim
  beta: number; // weight of L_ent
  tau: number; // EMA rate of the siamese policy
  sigma: number; // std of the noise on the stop-gradient target
  weight_mode: 'softmax' | 'uniform';
  anchor: 'sim' | 'kl'; // ablation: KL(pi_theta || pi_xi) instead of L_sim
  ema: boolean; // ablation: false freezes xi at the initial policy
  nll_norm: 'tokens' | 'sequence'; // divide the weighted NLL by positive tokens, or average per-sequence means
  positive_threshold: number; // a completion is positive (in S+) when its reward is >= this
  predictor_dim?: number;
}

export interface GrpoParams {
  epsilon: number;
  epsilon_high: number;
  kl_beta: number; // k3 KL to a frozen reference; 0 disables it
  scale_rewards: 'group' | 'batch' | 'none';
  loss_agg: 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum-norm';
  mu: number; // optimisation epochs per rollout batch
}

export interface OptimizerParams {
  lr: number;
  weight_decay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clip_grad_norm: number;
  warmup_steps: number;
  schedule: 'constant' | 'cosine';
}

export interface SamplingParams {
  group_size: number; // G
  prompts_per_step: number; // B
  max_new_tokens: number;
  temperature: number;
  top_p: number;
  top_k: number;
}

/** One verifiable problem. `completion` is the SFT target when present. */
export interface Example {
  id: string;
  problem: string;
  answer: string;
  completion?: string;
}

export interface DataSpec {
  /** A built-in task (src/learner/tasks) ... */
  task?: { name: string; difficulty: number; n_train: number; n_test: number };
  /** ... or explicit examples (from a JSONL dataset). */
  train?: Example[];
  test?: Example[];
  reward?: 'math' | 'exact';
}

export interface ModelSpec {
  builtin?: string; // e.g. 'tiny-1m'
  path?: string; // local HF-format directory
}

export interface TrainConfig {
  algorithm: Algorithm;
  seed: number;
  steps: number;
  model: ModelSpec;
  data: DataSpec;
  sampling: SamplingParams;
  optimizer: OptimizerParams;
  popo: PopoParams;
  grpo: GrpoParams;
  sft?: { batch_size: number; epochs?: number };
  checkpoint_every: number; // steps; 0 = only at the end
  eval_every: number; // steps; 0 = only before and after
  eval: { n: number; k: number; temperature: number; max_examples: number };
  backend?: 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
}

export interface StepMetrics {
  step: number;
  reward_mean: number;
  pass_rate: number; // fraction of sampled completions judged correct
  positive_fraction: number;
  zero_positive_group_fraction: number;
  mean_positive_set_size: number;
  entropy: number;
  nll: number;
  l_sim: number;
  l_ent: number;
  loss: number;
  grad_norm: number;
  lr: number;
  drift: number; // ||theta - xi||
  drift_bound: number; // Lemma 3.2: tau * eta * G_max / (1 - tau), running G_max
  completion_length: number;
  tokens_per_second: number;
  step_seconds: number;
  backend: string;
  [extra: string]: number | string;
}

export interface EvalResult {
  step: number;
  n: number;
  k: number;
  pass_at_k: number;
  avg_at_k: number;
  examples: number;
}

export interface TrainEvent {
  level: 'info' | 'warning';
  code: string; // e.g. 'zero_positive_dominates', 'entropy_collapse'
  message: string;
  step: number;
}

/** A checkpoint is one safetensors file (theta, xi, predictor, optimizer moments) with JSON metadata inside. */
export interface CheckpointBlob {
  step: number;
  bytes: Uint8Array;
  sha256: string;
}

export type StopSignal = false | 'cancel' | 'pause';

export interface TrainHooks {
  onStep?(metrics: StepMetrics): void | Promise<void>;
  onCheckpoint?(checkpoint: CheckpointBlob): void | Promise<void>;
  onEval?(result: EvalResult): void | Promise<void>;
  onEvent?(event: TrainEvent): void | Promise<void>;
  /** A resumed run starts after `step`: anything recorded for later steps is about to be redone. */
  onResume?(step: number): void | Promise<void>;
  /** Polled once per step; a truthy answer stops the run after a checkpoint of the current step. */
  shouldStop?(): StopSignal | Promise<StopSignal>;
}

export interface TrainResult {
  status: 'completed' | 'cancelled' | 'paused';
  steps_done: number;
  backend: string;
  eval_before?: EvalResult;
  eval_after?: EvalResult;
  final_checkpoint?: CheckpointBlob;
}

// The entry point, implemented in ./train.ts:
//   train(config: TrainConfig, hooks?: TrainHooks, opts?: { resumeFrom?: CheckpointBlob; baseCheckpoint?: CheckpointBlob })
//     → Promise<TrainResult>
// defaults + validation in ./config.ts: `resolveConfig(partial) → TrainConfig` throws ConfigError {field, reason}.
