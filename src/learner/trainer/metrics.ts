import type { Algorithm } from './types.js';

/**
 * What every step reports, whatever the algorithm. The loop measures the timing, learning-rate and length fields;
 * the algorithm reports `loss` and `grad_norm` (0 when it took no update).
 */
export interface CoreMetrics {
  step: number;
  algorithm: Algorithm;
  loss: number;
  grad_norm: number; // pre-clip global norm
  lr: number;
  completion_length: number; // mean completion tokens per sequence (EOS included)
  tokens_per_second: number; // generated tokens for RL, trained tokens (padding included) for SFT
  step_seconds: number;
  backend: string;
}

/** The core of an RL step: it sampled completions and a verifier scored them. */
export interface RolloutMetrics extends CoreMetrics {
  reward_mean: number;
  pass_rate: number; // fraction of sampled completions judged correct
  zero_correct_group_fraction: number; // prompts none of whose G completions is correct
  entropy: number; // mean per-token entropy (nats) over completion tokens
  /** With a run's `rewards`: each component's mean score over the step's completions (TRL's rewards/<name>). */
  [component: RewardComponentKey]: number;
}

/** The metric key of a reward component: `rewards/<name>`. */
export type RewardComponentKey = `rewards/${string}`;
export const rewardComponentKey = (name: string): RewardComponentKey => `rewards/${name}`;

export interface PopoMetrics extends RolloutMetrics {
  algorithm: 'popo';
  nll: number;
  l_sim: number; // the anchor term: L_sim, or the KL anchor when popo.anchor = 'kl'
  l_ent: number;
  positive_fraction: number; // completions with reward >= popo.positive_threshold
  zero_positive_group_fraction: number;
  mean_positive_set_size: number; // mean |S+| over the groups with a positive
  drift: number; // ‖θ − ξ‖ after the EMA update
  drift_bound: number; // Lemma 3.2: τ·ηG_max/(1 − τ) with the running largest update ηG_max
}

export interface GrpoMetrics extends RolloutMetrics {
  algorithm: 'grpo';
  pg_loss: number; // the clipped surrogate alone
  kl: number; // mean k3 KL to the reference (0 without one)
  clip_fraction: number;
  low_clip_fraction: number;
  high_clip_fraction: number;
  ratio_mean: number;
  mean_advantage: number;
  mean_abs_advantage: number;
  zero_advantage_group_fraction: number; // groups whose rewards are all equal: no GRPO signal
}

export interface SftMetrics extends CoreMetrics {
  algorithm: 'sft';
}

/** One step's record, discriminated by `algorithm`: each algorithm reports its own fields and no one else's. */
export type StepMetrics = PopoMetrics | GrpoMetrics | SftMetrics;

/** The records of RL steps (they sampled and scored completions). */
export type RlMetrics = PopoMetrics | GrpoMetrics;

export const isRlMetrics = (m: StepMetrics): m is RlMetrics => m.algorithm !== 'sft';

/** Fields the loop measures itself; an algorithm's step reports everything else of its record. */
export type LoopMeasured =
  | 'step'
  | 'lr'
  | 'completion_length'
  | 'tokens_per_second'
  | 'step_seconds'
  | 'backend'
  | 'reward_mean'
  | 'pass_rate'
  | 'zero_correct_group_fraction';

/** The part of a record an algorithm reports (its own fields, `algorithm`, `loss`, `grad_norm`, `entropy`). */
export type AlgorithmMetrics<M extends StepMetrics> = Omit<M, LoopMeasured>;

/** A metric by name, for consumers that plot or average any field (absent → undefined). */
export function metricValue(m: StepMetrics, key: string): number | string | undefined {
  return (m as unknown as Record<string, number | string | undefined>)[key];
}

/** A POPO-shaped record with every quantity at 0, for tests and fakes that check only a few fields. */
export function zeroMetrics(step: number, backend: string, values: Partial<PopoMetrics> = {}): PopoMetrics {
  return {
    step,
    algorithm: 'popo',
    reward_mean: 0,
    pass_rate: 0,
    zero_correct_group_fraction: 0,
    positive_fraction: 0,
    zero_positive_group_fraction: 0,
    mean_positive_set_size: 0,
    entropy: 0,
    nll: 0,
    l_sim: 0,
    l_ent: 0,
    loss: 0,
    grad_norm: 0,
    lr: 0,
    drift: 0,
    drift_bound: 0,
    completion_length: 0,
    tokens_per_second: 0,
    step_seconds: 0,
    backend,
    ...values,
  };
}
