import 'reflect-metadata';
import { plainToInstance, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateNested,
  validateSync,
  type ValidationError,
} from 'class-validator';
import { listTasks } from '../tasks/index.js';
import type { TrainConfig } from './types.js';

/**
 * Defaults: POPO's from the authors' run (α .1, β .01, τ .995, σ .02, G 8, clip 1); the rest are common RLVR settings.
 * The learning rate default suits billion-parameter policies; the tiny built-in models want ~1e-3 (see examples/).
 */
export const DEFAULT_CONFIG: TrainConfig = {
  algorithm: 'popo',
  seed: 0,
  steps: 100,
  model: { builtin: 'tiny-1m' },
  data: { task: { name: 'add', difficulty: 1, n_train: 2000, n_test: 200 }, reward: 'exact' },
  sampling: { group_size: 8, prompts_per_step: 8, max_new_tokens: 16, temperature: 1, top_p: 1, top_k: 0 },
  optimizer: {
    lr: 1e-6,
    weight_decay: 0.01,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    clip_grad_norm: 1,
    warmup_steps: 0,
    schedule: 'constant',
  },
  popo: {
    alpha: 0.1,
    beta: 0.01,
    tau: 0.995,
    sigma: 0.02,
    weight_mode: 'softmax',
    anchor: 'sim',
    ema: true,
    nll_norm: 'tokens',
    positive_threshold: 0.5,
  },
  grpo: {
    epsilon: 0.2,
    epsilon_high: 0.2,
    kl_beta: 0,
    scale_rewards: 'group',
    loss_agg: 'token-mean',
    mu: 1,
  },
  sft: { batch_size: 32, epochs: 1 },
  checkpoint_every: 50,
  eval_every: 0,
  eval: { n: 1, k: 1, temperature: 0, max_examples: 200 },
  // backend left unset: the POPO_BACKEND environment variable (default auto) decides.
};

export interface ConfigIssue {
  field: string;
  reason: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(`invalid training config: ${issues.map((i) => `${i.field} ${i.reason}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Exclusive bounds, which class-validator lacks. */
function Between(lo: number, hi: number, msg: string) {
  return (target: object, key: string) => {
    Min(lo, { message: msg })(target, key);
    Max(hi, { message: msg })(target, key);
  };
}

class PopoSchema {
  @IsNumber() @Min(0, { message: 'must be >= 0' }) alpha!: number;
  @IsNumber() @Min(0, { message: 'must be >= 0' }) beta!: number;
  @IsNumber() @Between(Number.MIN_VALUE, 1 - Number.EPSILON, 'must be > 0 and < 1') tau!: number;
  @IsNumber() @Min(0, { message: 'must be >= 0' }) sigma!: number;
  @IsIn(['softmax', 'uniform']) weight_mode!: string;
  @IsIn(['sim', 'kl']) anchor!: string;
  @IsBoolean() ema!: boolean;
  @IsIn(['tokens', 'sequence']) nll_norm!: string;
  @IsNumber({ allowNaN: false, allowInfinity: false }) positive_threshold!: number;
  @IsOptional() @IsInt() @Min(1) predictor_dim?: number;
}

class GrpoSchema {
  @IsNumber() @Between(0, 1, 'must be in [0, 1]') epsilon!: number;
  @IsNumber() @Min(0, { message: 'must be >= 0' }) epsilon_high!: number;
  @IsNumber() @Min(0, { message: 'must be >= 0' }) kl_beta!: number;
  @IsIn(['group', 'batch', 'none']) scale_rewards!: string;
  @IsIn(['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum-norm']) loss_agg!: string;
  @IsInt() @Min(1) @Max(16) mu!: number;
}

class OptimizerSchema {
  @IsNumber() @Between(Number.MIN_VALUE, 10, 'must be > 0') lr!: number;
  @IsNumber() @Min(0) weight_decay!: number;
  @IsNumber() @Between(0, 1 - Number.EPSILON, 'must be in [0, 1)') beta1!: number;
  @IsNumber() @Between(0, 1 - Number.EPSILON, 'must be in [0, 1)') beta2!: number;
  @IsNumber() @Between(Number.MIN_VALUE, 1, 'must be > 0') eps!: number;
  @IsNumber() @Min(0, { message: 'must be >= 0 (0 disables clipping)' }) clip_grad_norm!: number;
  @IsInt() @Min(0) warmup_steps!: number;
  @IsIn(['constant', 'cosine']) schedule!: string;
}

class SamplingSchema {
  @IsInt() @Min(2, { message: 'must be >= 2 (a group needs several completions)' }) group_size!: number;
  @IsInt() @Min(1) @Max(4096) prompts_per_step!: number;
  @IsInt() @Min(1) @Max(32768) max_new_tokens!: number;
  @IsNumber() @Between(Number.MIN_VALUE, 100, 'must be > 0') temperature!: number;
  @IsNumber() @Between(Number.MIN_VALUE, 1, 'must be in (0, 1]') top_p!: number;
  @IsInt() @Min(0, { message: 'must be >= 0 (0 disables top-k)' }) top_k!: number;
}

class TaskSchema {
  @IsString() name!: string;
  @IsInt() @Min(1) @Max(10) difficulty!: number;
  @IsInt() @Min(1) n_train!: number;
  @IsInt() @Min(1) n_test!: number;
}

class DataSchema {
  @IsOptional() @ValidateNested() @Type(() => TaskSchema) task?: TaskSchema;
  @IsOptional() @IsIn(['math', 'exact']) reward?: string;
}

class ModelSchema {
  @IsOptional() @IsString() builtin?: string;
  @IsOptional() @IsString() path?: string;
}

class SftSchema {
  @IsInt() @Min(1) batch_size!: number;
  @IsOptional() @IsInt() @Min(1) epochs?: number;
}

class EvalSchema {
  @IsInt() @Min(1) n!: number;
  @IsInt() @Min(1) k!: number;
  @IsNumber() @Min(0, { message: 'must be >= 0 (0 is greedy)' }) temperature!: number;
  @IsInt() @Min(1) max_examples!: number;
}

class TrainConfigSchema {
  @IsIn(['popo', 'grpo', 'sft']) algorithm!: string;
  @IsInt() @Min(0) seed!: number;
  @IsInt() @Min(1) steps!: number;
  @ValidateNested() @Type(() => ModelSchema) model!: ModelSchema;
  @ValidateNested() @Type(() => DataSchema) data!: DataSchema;
  @ValidateNested() @Type(() => SamplingSchema) sampling!: SamplingSchema;
  @ValidateNested() @Type(() => OptimizerSchema) optimizer!: OptimizerSchema;
  @ValidateNested() @Type(() => PopoSchema) popo!: PopoSchema;
  @ValidateNested() @Type(() => GrpoSchema) grpo!: GrpoSchema;
  @IsOptional() @ValidateNested() @Type(() => SftSchema) sft?: SftSchema;
  @IsInt() @Min(0) checkpoint_every!: number;
  @IsInt() @Min(0) eval_every!: number;
  @ValidateNested() @Type(() => EvalSchema) eval!: EvalSchema;
  @IsOptional() @IsIn(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']) backend?: string;
}

function flatten(errors: ValidationError[], prefix = ''): ConfigIssue[] {
  return errors.flatMap((e) => {
    const field = prefix ? `${prefix}.${e.property}` : e.property;
    const own = Object.values(e.constraints ?? {}).map((reason) => ({
      field,
      reason: reason.startsWith(e.property + ' ') ? reason.slice(e.property.length + 1) : reason,
    }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deep merge where arrays and scalars from `over` replace those in `base`. */
export function mergeDeep<T>(base: T, over: unknown): T {
  if (!isPlain(base) || !isPlain(over)) return (over === undefined ? base : over) as T;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in out ? mergeDeep(out[k], v) : v;
  return out as T;
}

/** Unknown keys anywhere are errors: a typo in a hyperparameter must not silently fall back to a default. */
function unknownKeys(value: unknown, shape: unknown, prefix = ''): ConfigIssue[] {
  if (!isPlain(value) || !isPlain(shape)) return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const field = prefix ? `${prefix}.${k}` : k;
    if (!(k in shape)) return [{ field, reason: 'is not a known setting' }];
    return unknownKeys(v, shape[k], field);
  });
}

const SHAPE = mergeDeep(DEFAULT_CONFIG, {
  data: { train: [], test: [] },
  model: { path: '' },
  popo: { predictor_dim: 0 },
  backend: 'auto',
});

/** Fills defaults and validates; throws ConfigError listing every bad field with its reason. */
export function resolveConfig(partial: unknown): TrainConfig {
  if (partial !== undefined && !isPlain(partial)) {
    throw new ConfigError([{ field: '(root)', reason: 'must be an object' }]);
  }
  const issues = unknownKeys(partial ?? {}, SHAPE);
  const merged = mergeDeep(DEFAULT_CONFIG, partial ?? {});
  // An explicit model path replaces the default built-in model.
  if (isPlain(partial) && isPlain(partial.model) && partial.model.path && !partial.model.builtin) {
    delete merged.model.builtin;
  }
  if (
    isPlain(partial) &&
    isPlain(partial.data) &&
    (partial.data.train || partial.data.test) &&
    !partial.data.task
  ) {
    delete merged.data.task;
  }
  const schema = plainToInstance(TrainConfigSchema, merged);
  issues.push(...flatten(validateSync(schema, { forbidUnknownValues: false })));
  if (!merged.model.builtin === !merged.model.path) {
    issues.push({ field: 'model', reason: 'must name exactly one of builtin or path' });
  }
  if (!merged.data.task && !merged.data.train?.length) {
    issues.push({ field: 'data', reason: 'must name a built-in task or give training examples' });
  }
  const task = merged.data.task;
  if (task && typeof task.name === 'string') {
    const known = listTasks();
    const info = known.find((t) => t.name === task.name);
    if (!info) {
      issues.push({
        field: 'data.task.name',
        reason: `unknown task "${task.name}" (built-in: ${known.map((t) => t.name).join(', ')})`,
      });
    } else if (task.difficulty > info.maxDifficulty) {
      issues.push({
        field: 'data.task.difficulty',
        reason: `must be <= ${info.maxDifficulty} for task ${task.name}`,
      });
    }
  }
  if (merged.eval.k > merged.eval.n) issues.push({ field: 'eval.k', reason: 'must be <= eval.n' });
  if (merged.grpo.epsilon_high < merged.grpo.epsilon) {
    issues.push({ field: 'grpo.epsilon_high', reason: 'must be >= grpo.epsilon' });
  }
  if (issues.length) throw new ConfigError(issues);
  return merged;
}
