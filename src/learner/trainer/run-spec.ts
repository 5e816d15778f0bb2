import { z } from 'zod';
import { BUILTIN_MODELS } from '../model/config.js';
import { DEFAULT_LORA_TARGETS, LORA_TARGETS } from '../model/lora-config.js';
import { rewardListSpec } from '../rewards/reward-spec.js';
import { getTask, listTasks } from '../tasks/index.js';
import { bool, num, oneOf, section, text } from './spec-fields.js';

/**
 * THE run specification: every field of a training run with its type, bounds, default and a one-line doc, in the
 * spirit of TRL's GRPOConfig. Everything else is derived from it: the TrainConfig type (types.ts), defaults and
 * validation (config.ts), the CLI's run document, the service's job request and its OpenAPI schema
 * (src/modules/jobs/job-request-schema.ts). Adding a field = adding one line here. See docs/run-contract.md.
 */

export { describeBounds, field, type Bounds } from './spec-fields.js';

// ------------------------------------------------------------------------------------------------- the fields

export const ALGORITHMS = ['popo', 'grpo', 'sft'] as const;
export const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
export const REWARDS = ['math', 'exact'] as const;
export const OVERLONG = ['error', 'skip', 'truncate_left'] as const;
export const PROMPT_TEMPLATES = ['none', 'chat', 'qwen_math', 'r1', 'simple'] as const;
const INT32 = 2 ** 31 - 1;

/** A built-in task generator (src/learner/tasks) as the data source. */
export const taskSpec = section(
  {
    name: text('Built-in task: add, mul, linear, count, reverse (GET /v1/tasks lists them).', 200),
    difficulty: num(
      { int: true, gte: 1, lte: 10 },
      'Task difficulty, 1 (easiest) .. the task maximum.',
    ).default(1),
    n_train: num({ int: true, gte: 1, lte: 100_000 }, 'Distinct training problems.').default(2000),
    n_test: num(
      { int: true, gte: 1, lte: 100_000 },
      'Distinct held-out problems (disjoint from train).',
    ).default(200),
  },
  'A built-in task generator.',
);

/** The `data` fields that are not the data source: they travel unchanged from every document to the trainer. */
const dataSettings = {
  reward: oneOf(
    REWARDS,
    'Verifier: `exact` (trimmed match, numbers by value) or `math` (boxed/final answer, symbolic equality). ' +
      'Default: exact for a built-in task, math for examples.',
  ).optional(),
  overlong: oneOf(
    OVERLONG,
    'A prompt that leaves no room for max_new_tokens in the model context: refuse the run, skip the example, or ' +
      'keep its last tokens.',
  ).default('error'),
  prompt_template: oneOf(
    PROMPT_TEMPLATES,
    "How a problem becomes the prompt: `none` (the problem as is), `chat` (the model's own chat_template), " +
      "`qwen_math` (step-by-step \\boxed{} system prompt in the model's chat template, else ChatML), `r1` " +
      "(<think>/<answer> preamble), `simple` (Problem:/Solution:). Generation also stops at the template's " +
      'end-of-turn token. See docs/prompts.md.',
  ).default('none'),
};

/** Every field of a run but its model and data source. Sweep grids address these paths. */
const runFields = {
  algorithm: oneOf(ALGORITHMS, 'Training objective: POPO (positive-only), GRPO (baseline) or SFT.').default(
    'popo',
  ),
  seed: num({ int: true, gte: 0, lte: INT32 }, 'Seed of everything random (data, init, sampling).').default(
    0,
  ),
  steps: num({ int: true, gte: 1, lte: 10_000_000 }, 'Optimizer steps.').default(100),
  checkpoint_every: num(
    { int: true, gte: 0, lte: 10_000_000 },
    'Steps between checkpoints; 0 = only at the end.',
  ).default(50),
  eval_every: num(
    { int: true, gte: 0, lte: 10_000_000 },
    'Steps between evals; 0 = only before and after.',
  ).default(0),
  backend: oneOf(
    BACKENDS,
    'TensorFlow.js backend; unset: the POPO_BACKEND environment variable (default auto).',
  ).optional(),
  rewards: rewardListSpec
    .meta({
      description:
        'Reward functions combined by weighted mean (the reward library of POST /v1/rewards/run: math, ' +
        'exact_match, regex, http). A completion is positive when the mean is at or above ' +
        'popo.positive_threshold; each component is reported as the step metric rewards/<name>. Instead of ' +
        'data.reward.',
    })
    .optional(),
  sampling: section(
    {
      group_size: num({ int: true, gte: 2, lte: 1024 }, 'Completions per prompt (G).').default(8),
      prompts_per_step: num({ int: true, gte: 1, lte: 4096 }, 'Prompts per step (B).').default(8),
      max_new_tokens: num({ int: true, gte: 1, lte: 32768 }, 'Completion length limit in tokens.').default(
        16,
      ),
      temperature: num({ gt: 0, lte: 100 }, 'Sampling temperature of the rollouts.').default(1),
      top_p: num({ gt: 0, lte: 1 }, 'Nucleus sampling mass; 1 disables it.').default(1),
      top_k: num(
        { int: true, gte: 0, lte: 1_000_000 },
        'Keep the k most likely tokens; 0 disables top-k.',
      ).default(0),
    },
    'Rollouts: how many completions per step and how they are sampled.',
  ).prefault({}),
  optimizer: section(
    {
      lr: num(
        { gt: 0, lte: 10 },
        'AdamW learning rate (billion-parameter default; tiny models want ~1e-3).',
      ).default(1e-6),
      weight_decay: num({ gte: 0, lte: 10 }, 'AdamW decoupled weight decay.').default(0.01),
      beta1: num({ gte: 0, lt: 1 }, 'AdamW first-moment decay.').default(0.9),
      beta2: num({ gte: 0, lt: 1 }, 'AdamW second-moment decay.').default(0.999),
      eps: num({ gt: 0, lte: 1 }, 'AdamW denominator epsilon.').default(1e-8),
      clip_grad_norm: num({ gte: 0, lte: 1e6 }, 'Global gradient-norm clip; 0 disables clipping.').default(1),
      warmup_steps: num(
        { int: true, gte: 0, lte: 10_000_000 },
        'Linear warm-up steps; 0 = none, or optimizer.warmup_ratio.',
      ).default(0),
      warmup_ratio: num(
        { gte: 0, lt: 1 },
        'Linear warm-up over ceil(ratio × steps) steps (Hugging Face warmup_ratio; the authors use 0.1 with ' +
          'cosine). Not together with warmup_steps.',
      ).default(0),
      schedule: oneOf(
        ['constant', 'cosine'],
        'Learning-rate schedule after warm-up: constant, or cosine decay to 0 at the last step.',
      ).default('constant'),
      micro_batch_size: num(
        { int: true, gte: 1, lte: 65536 },
        'Sequences per backward pass: gradients accumulate over micro-batches into one update, the same as the ' +
          'whole batch at once but with the activations of only this many sequences alive. Unset: the whole batch.',
      ).optional(),
    },
    'AdamW and the learning-rate schedule.',
  ).prefault({}),
  popo: section(
    {
      alpha: num({ gte: 0, lte: 1e6 }, 'Weight of the similarity term L_sim.').default(0.1),
      beta: num({ gte: 0, lte: 1e6 }, 'Weight of the entropy term L_ent.').default(0.01),
      tau: num({ gt: 0, lt: 1 }, 'EMA rate of the siamese policy ξ.').default(0.995),
      sigma: num({ gte: 0, lte: 1e6 }, 'Std of the noise on the stop-gradient target.').default(0.02),
      weight_mode: oneOf(['softmax', 'uniform'], 'Weights over the positive set.').default('softmax'),
      anchor: oneOf(['sim', 'kl'], 'Ablation: KL(π_θ‖π_ξ) instead of L_sim.').default('sim'),
      ema: bool('Ablation: false freezes ξ at the initial policy.').default(true),
      nll_norm: oneOf(
        ['tokens', 'sequence'],
        'Normalise the weighted NLL by positive tokens, or average per-sequence means.',
      ).default('tokens'),
      predictor_dim: num(
        { int: true, gte: 1, lte: 65536 },
        'Hidden width d of the predictor head Linear(H→d)→LayerNorm→ReLU→Linear(d→H) (the authors: 1024).',
      ).default(1024),
      positive_threshold: num(
        { gte: 0, lte: 1 },
        'A completion is positive (in S+) when its reward is at or above this value.',
      ).default(0.5),
    },
    'POPO: the loss weights and the siamese policy.',
  ).prefault({}),
  grpo: section(
    {
      epsilon: num({ gte: 0, lt: 1 }, 'Lower clip range: the ratio is clipped below at 1 − epsilon.').default(
        0.2,
      ),
      epsilon_high: num({ gte: 0, lte: 1e6 }, 'Upper clip range (clip-higher); at least epsilon.').default(
        0.2,
      ),
      kl_beta: num({ gte: 0, lte: 1e6 }, 'k3 KL to a frozen reference; 0 disables it.').default(0),
      scale_rewards: oneOf(['group', 'batch', 'none'], 'Advantage scaling (none = Dr. GRPO).').default(
        'group',
      ),
      loss_agg: oneOf(
        ['token-mean', 'seq-mean-token-mean', 'seq-mean-token-sum-norm'],
        'Loss aggregation over tokens and sequences.',
      ).default('token-mean'),
      mu: num({ int: true, gte: 1, lte: 16 }, 'Optimisation epochs per rollout batch.').default(1),
    },
    'GRPO baseline (with Dr. GRPO / DAPO options).',
  ).prefault({}),
  sft: section(
    {
      batch_size: num({ int: true, gte: 1, lte: 65536 }, 'Examples per SFT step.').default(32),
      epochs: num(
        { int: true, gte: 1, lte: 10000 },
        'Passes over the training set (steps caps them).',
      ).default(1),
    },
    'Supervised fine-tuning.',
  ).prefault({}),
  lora: section(
    {
      rank: num({ int: true, gte: 1, lte: 4096 }, 'Adapter rank r (PEFT `r`).').default(8),
      alpha: num(
        { gt: 0, lte: 1e6 },
        'Scale numerator (PEFT `lora_alpha`): a targeted linear adds (alpha/rank)·B·A·x.',
      ).default(16),
      dropout: num({ gte: 0, lt: 1 }, 'Dropout on the adapter input during training steps.').default(0),
      target_modules: z
        .array(oneOf(LORA_TARGETS, 'A projection by its Hugging Face name.'), {
          error: `must be a list of: ${LORA_TARGETS.join(', ')}`,
        })
        .min(1, { error: 'must name at least one projection' })
        .refine((t) => new Set(t).size === t.length, { error: 'must not name a projection twice' })
        .meta({
          description: `Projections that get adapters (${LORA_TARGETS.join(', ')}); default PEFT's for Llama/Qwen2.`,
        })
        .default([...DEFAULT_LORA_TARGETS]),
    },
    'LoRA: train low-rank adapters on a frozen base (absent = full fine-tuning). See docs/lora.md.',
  ).optional(),
  eval: section(
    {
      n: num({ int: true, gte: 1, lte: 1024 }, 'Samples per held-out problem.').default(1),
      k: num({ int: true, gte: 1, lte: 1024 }, 'k of pass@k and avg@k; at most n.').default(1),
      temperature: num({ gte: 0, lte: 100 }, 'Eval sampling temperature; 0 is greedy.').default(0),
      top_p: num({ gt: 0, lte: 1 }, 'Eval nucleus sampling mass; 1 disables it.').default(1),
      max_new_tokens: num(
        { int: true, gte: 1, lte: 32768 },
        'Eval completion length limit in tokens; default sampling.max_new_tokens.',
      ).optional(),
      max_examples: num(
        { int: true, gte: 1, lte: 1_000_000 },
        'At most this many held-out problems.',
      ).default(200),
      stop_at: num(
        { gt: 0, lte: 1 },
        'Stop early (as completed) at the first periodic eval whose avg@k reaches this: a base of known strength.',
      ).optional(),
    },
    'Held-out evaluation protocol.',
  ).prefault({}),
};

// --------------------------------------------------------------------------------- model and data references

/**
 * What differs between the documents: how the model and the examples are referenced. The trainer gets a local
 * directory and examples; the CLI's file names local paths; the service's request names registered ids.
 */
const builtinModel = z
  .enum(Object.keys(BUILTIN_MODELS) as [string, ...string[]], {
    error: `unknown built-in model; one of: ${Object.keys(BUILTIN_MODELS).join(', ')}`,
  })
  .meta({
    description: 'A built-in model (random init from the seed): ' + Object.keys(BUILTIN_MODELS).join(', '),
  });
const modelPath = text('A local Hugging Face-format model directory (config.json + safetensors).');
const example = z.strictObject({
  id: z.string(),
  problem: z.string(),
  answer: z.string(),
  completion: z.string().optional(),
});

export const MODEL_REFS = {
  local: { builtin: builtinModel.optional(), path: modelPath.optional() },
  service: {
    builtin: builtinModel.optional(),
    id: z
      .uuid({ error: 'must be a UUID' })
      .meta({ description: 'A registered model of the project.' })
      .optional(),
  },
} as const;

export const DATA_SOURCES = {
  /** What the trainer reads: a task, or examples already in memory. */
  trainer: {
    task: taskSpec.optional(),
    train: z.array(example).optional(),
    test: z.array(example).optional(),
  },
  /** The CLI's file: paths relative to the file. */
  local: {
    task: taskSpec.optional(),
    train_file: text('JSONL of {problem, answer[, completion][, split]}, relative to this file.').optional(),
    test_file: text(
      'JSONL held-out set, relative to this file (rows with split "test" count too).',
    ).optional(),
    problem_field: text(
      'The field of a data file row that holds the problem (e.g. GSM8K `question`); default `problem`.',
      200,
    ).optional(),
    answer_field: text(
      'The field that holds the reference answer (e.g. OlympiadBench `final_answer`, a list); default `answer`.',
      200,
    ).optional(),
  },
  /** The service: an uploaded dataset. */
  service: {
    task: taskSpec.optional(),
    dataset_id: z
      .uuid({ error: 'must be a UUID' })
      .meta({ description: 'An uploaded dataset of the project.' })
      .optional(),
  },
} as const;

/** Data keys that name where examples come from (swapped between documents); everything else in `data` is kept. */
export const DATA_SOURCE_KEYS = [
  ...new Set(Object.values(DATA_SOURCES).flatMap((s) => Object.keys(s))),
] as readonly string[];

/** Data keys that go with a source but are not one: a held-out set, and how the files' rows are read. */
const NOT_A_SOURCE = ['test', 'test_file', 'problem_field', 'answer_field'];

const DEFAULT_MODEL = { builtin: 'tiny-1m' };
const DEFAULT_DATA = { task: { name: 'add', difficulty: 2 } };

type Ctx = z.core.$RefinementCtx;

/** Cross-field rules that need no I/O: the same for every document. */
function checkRun(run: RunShape, ctx: Ctx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path, message });
  const modelKeys = Object.keys(run.model).filter((k) => run.model[k] !== undefined);
  if (modelKeys.length !== 1)
    issue(['model'], `must name exactly one of ${Object.keys(run.modelShape).join(' or ')}`);
  const sources = Object.keys(run.data).filter(
    (k) => DATA_SOURCE_KEYS.includes(k) && run.data[k] !== undefined && !NOT_A_SOURCE.includes(k),
  );
  if (sources.length === 0) issue(['data'], `must name a data source: ${run.sourceKeys.join(' or ')}`);
  else if (sources.length > 1) issue(['data'], `must name one data source, got ${sources.join(' and ')}`);
  if (run.eval.k > run.eval.n) issue(['eval', 'k'], `must be <= eval.n (${run.eval.n})`);
  if (run.rewards && run.data.reward !== undefined)
    issue(['rewards'], 'give either rewards or data.reward, not both (data.reward is one built-in verifier)');
  if (run.optimizer.warmup_ratio > 0 && run.optimizer.warmup_steps > 0)
    issue(
      ['optimizer', 'warmup_ratio'],
      'must be 0 when optimizer.warmup_steps is set (give one of the two)',
    );
  if (run.grpo.epsilon_high < run.grpo.epsilon)
    issue(['grpo', 'epsilon_high'], `must be >= grpo.epsilon (${run.grpo.epsilon})`);
  const task = run.data.task as z.output<typeof taskSpec> | undefined;
  if (task) for (const p of taskIssues(task, run.seed)) issue(['data', 'task', ...p.path], p.message);
}

interface RunShape {
  model: Record<string, unknown>;
  data: Record<string, unknown>;
  modelShape: object;
  sourceKeys: string[];
  seed: number;
  eval: { n: number; k: number };
  optimizer: { warmup_steps: number; warmup_ratio: number };
  rewards?: unknown[];
  grpo: { epsilon: number; epsilon_high: number };
}

/**
 * A built-in task's name, difficulty and size: the generator is run as the trainer will run it (same seed), so a
 * split too small for n_train / n_test is refused now rather than failing on a worker later.
 */
export function taskIssues(
  task: z.output<typeof taskSpec>,
  seed: number,
): { path: string[]; message: string }[] {
  const info = listTasks().find((t) => t.name === task.name);
  if (!info)
    return [
      {
        path: ['name'],
        message: `unknown task "${task.name}" (built-in: ${listTasks()
          .map((t) => t.name)
          .join(', ')})`,
      },
    ];
  if (task.difficulty > info.maxDifficulty)
    return [{ path: ['difficulty'], message: `must be <= ${info.maxDifficulty} for task ${task.name}` }];
  const out: { path: string[]; message: string }[] = [];
  for (const [split, key] of [
    ['train', 'n_train'],
    ['test', 'n_test'],
  ] as const) {
    const have = getTask(task.name).capacity(split, task.difficulty, task[key], seed);
    if (have < task[key])
      out.push({
        path: [key],
        message: `must be <= ${have}: task ${task.name} at difficulty ${task.difficulty} has only ${have} distinct ${split} problems`,
      });
  }
  return out;
}

/** One run document schema from its model reference and data source; `extra` adds fields beside the run. */
export function runDocument<
  M extends z.ZodRawShape,
  D extends z.ZodRawShape,
  E extends z.ZodRawShape = Record<never, z.ZodType>,
>(modelRef: M, dataSource: D, extra: E = {} as E) {
  const model = section(
    modelRef,
    'The policy to train: exactly one of ' + Object.keys(modelRef).join(' | ') + '.',
  );
  const data = section(
    { ...dataSource, ...dataSettings },
    'Where the problems come from and how they are scored.',
  );
  return z
    .strictObject({
      ...runFields,
      model: model.prefault(DEFAULT_MODEL as never),
      data: data.prefault(DEFAULT_DATA as never),
      ...extra,
    })
    .superRefine((run, ctx) =>
      checkRun(
        {
          ...(run as unknown as RunShape),
          modelShape: modelRef,
          sourceKeys: Object.keys(dataSource).filter((k) => !NOT_A_SOURCE.includes(k)),
        },
        ctx,
      ),
    );
}

/** The trainer's input: model by builtin name or local path, data as a task or examples in memory. */
export const trainConfigSchema = runDocument(MODEL_REFS.local, DATA_SOURCES.trainer);

/** The CLI's run document (`popo train -c run.yaml`): as the trainer's, with JSONL files instead of examples. */
export const localRunSchema = runDocument(MODEL_REFS.local, DATA_SOURCES.local);

/** Paths of every leaf field of the run proper (no model, no data source): what sweep grids may vary. */
export const RUN_FIELD_PATHS: readonly string[] = [
  ...Object.entries(runFields).flatMap(([k, s]) => leafPaths(k, s)),
  ...Object.keys(dataSettings).map((k) => `data.${k}`),
  ...Object.keys(taskSpec.shape).map((k) => `data.task.${k}`),
];

function leafPaths(prefix: string, schema: z.ZodType): string[] {
  let s: z.ZodType = schema;
  // Unwrap defaults / optionals to find an object section.
  while (s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodOptional)
    s = s._zod.def.innerType as z.ZodType;
  if (s instanceof z.ZodObject)
    return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([k, v]) =>
      leafPaths(`${prefix}.${k}`, v),
    );
  return [prefix];
}
