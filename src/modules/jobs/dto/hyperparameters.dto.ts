import {
  OptionalBoolean,
  OptionalEnum,
  OptionalNumber,
  OptionalSection,
} from '../../../common/dto-decorators.js';

// Mirrors the sections of TrainConfig (src/learner/trainer/types.ts). Every field is optional: the trainer fills
// its defaults. Bounds here are the user-facing contract; the error names the field ("popo.tau") and the rule.

export class PopoParamsDto {
  @OptionalNumber({ gte: 0 }, { description: 'Weight of the similarity term L_sim.', default: 0.1 })
  alpha?: number;

  @OptionalNumber({ gte: 0 }, { description: 'Weight of the entropy term L_ent.', default: 0.01 })
  beta?: number;

  @OptionalNumber({ gt: 0, lt: 1 }, { description: 'EMA rate of the siamese policy.', default: 0.995 })
  tau?: number;

  @OptionalNumber({ gte: 0 }, { description: 'Std of the noise on the stop-gradient target.', default: 0.02 })
  sigma?: number;

  @OptionalEnum(['softmax', 'uniform'], { default: 'softmax' })
  weight_mode?: 'softmax' | 'uniform';

  @OptionalEnum(['sim', 'kl'], {
    description: 'Ablation: KL(pi_theta || pi_xi) instead of L_sim.',
    default: 'sim',
  })
  anchor?: 'sim' | 'kl';

  @OptionalBoolean({ description: 'Ablation: false freezes xi at the initial policy.', default: true })
  ema?: boolean;

  @OptionalEnum(['tokens', 'sequence'], {
    description: 'Normalise the weighted NLL by positive tokens, or average per-sequence means.',
    default: 'tokens',
  })
  nll_norm?: 'tokens' | 'sequence';

  @OptionalNumber({ int: true, gte: 1, lte: 65536 })
  predictor_dim?: number;
}

export class GrpoParamsDto {
  @OptionalNumber({ gte: 0, lte: 1 }, { description: 'Lower clip range.' })
  epsilon?: number;

  @OptionalNumber({ gte: 0 }, { description: 'Upper clip range (clip-higher); at least epsilon.' })
  epsilon_high?: number;

  @OptionalNumber({ gte: 0 }, { description: 'k3 KL to a frozen reference; 0 disables it.' })
  kl_beta?: number;

  @OptionalEnum(['group', 'batch', 'none'])
  scale_rewards?: 'group' | 'batch' | 'none';

  @OptionalEnum(['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'])
  loss_agg?: 'token-mean' | 'seq-mean-token-mean' | 'seq-mean-token-sum-norm';

  @OptionalNumber({ int: true, gte: 1, lte: 16 }, { description: 'Optimisation epochs per rollout batch.' })
  mu?: number;
}

export class OptimizerParamsDto {
  @OptionalNumber({ gt: 0, lte: 10 }, { description: 'Learning rate.' })
  lr?: number;

  @OptionalNumber({ gte: 0 })
  weight_decay?: number;

  @OptionalNumber({ gte: 0, lt: 1 })
  beta1?: number;

  @OptionalNumber({ gte: 0, lt: 1 })
  beta2?: number;

  @OptionalNumber({ gt: 0, lte: 1 })
  eps?: number;

  @OptionalNumber({ gte: 0 }, { description: 'Global gradient-norm clip; 0 disables clipping.', default: 1 })
  clip_grad_norm?: number;

  @OptionalNumber({ int: true, gte: 0 })
  warmup_steps?: number;

  @OptionalEnum(['constant', 'cosine'])
  schedule?: 'constant' | 'cosine';
}

export class SamplingParamsDto {
  @OptionalNumber(
    { int: true, gte: 2, lte: 1024 },
    { description: 'Completions per prompt (G).', default: 8 },
  )
  group_size?: number;

  @OptionalNumber({ int: true, gte: 1, lte: 4096 }, { description: 'Prompts per step (B).' })
  prompts_per_step?: number;

  @OptionalNumber({ int: true, gte: 1, lte: 32768 })
  max_new_tokens?: number;

  @OptionalNumber({ gt: 0, lte: 100 })
  temperature?: number;

  @OptionalNumber({ gt: 0, lte: 1 })
  top_p?: number;

  @OptionalNumber({ int: true, gte: 0 }, { description: '0 disables top-k.' })
  top_k?: number;
}

export class SftParamsDto {
  @OptionalNumber({ int: true, gte: 1, lte: 65536 })
  batch_size?: number;

  @OptionalNumber({ int: true, gte: 1, lte: 10000 })
  epochs?: number;
}

export class EvalParamsDto {
  @OptionalNumber({ int: true, gte: 1, lte: 1024 }, { description: 'Samples per problem.' })
  n?: number;

  @OptionalNumber({ int: true, gte: 1, lte: 1024 }, { description: 'k of pass@k; at most n.' })
  k?: number;

  @OptionalNumber({ gte: 0 }, { description: '0 is greedy.' })
  temperature?: number;

  @OptionalNumber({ int: true, gte: 1 })
  max_examples?: number;
}

export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

/**
 * The hyperparameter part of a job request: exactly what is stored in jobs.config and handed to the trainer
 * (with model and data filled in from the job's columns). Sweep grids address these fields ("popo.alpha").
 */
export class HyperparametersDto {
  @OptionalNumber({ int: true, gte: 0, lte: 2 ** 31 - 1 })
  seed?: number;

  @OptionalNumber({ int: true, gte: 1, lte: 10_000_000 }, { description: 'Optimizer steps.' })
  steps?: number;

  @OptionalNumber({ int: true, gte: 0 }, { description: 'Steps between checkpoints; 0 = only at the end.' })
  checkpoint_every?: number;

  @OptionalNumber({ int: true, gte: 0 }, { description: 'Steps between evals; 0 = only before and after.' })
  eval_every?: number;

  @OptionalEnum(BACKENDS)
  backend?: (typeof BACKENDS)[number];

  @OptionalEnum(['math', 'exact'], { description: 'Verifier for the answers.' })
  reward?: 'math' | 'exact';

  @OptionalSection(() => SamplingParamsDto)
  sampling?: SamplingParamsDto;

  @OptionalSection(() => OptimizerParamsDto)
  optimizer?: OptimizerParamsDto;

  @OptionalSection(() => PopoParamsDto)
  popo?: PopoParamsDto;

  @OptionalSection(() => GrpoParamsDto)
  grpo?: GrpoParamsDto;

  @OptionalSection(() => SftParamsDto)
  sft?: SftParamsDto;

  @OptionalSection(() => EvalParamsDto)
  eval?: EvalParamsDto;
}

/** Field names of HyperparametersDto that are sections (objects) rather than scalars. */
export const HYPERPARAMETER_SECTIONS = ['sampling', 'optimizer', 'popo', 'grpo', 'sft', 'eval'] as const;
export const HYPERPARAMETER_SCALARS = [
  'seed',
  'steps',
  'checkpoint_every',
  'eval_every',
  'backend',
  'reward',
] as const;
