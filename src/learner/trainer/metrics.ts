import type { StepMetrics } from './types.js';

/** A step's metrics with every quantity at 0: SFT steps fill in the few that apply, tests the ones they check. */
export function zeroMetrics(step: number, backend: string, values: Partial<StepMetrics> = {}): StepMetrics {
  return {
    step,
    reward_mean: 0,
    pass_rate: 0,
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
  } as StepMetrics;
}
