import type { ConfigIssue } from './config.js';

/** The dimensions of a model that decide its cost per token (a Hugging Face config.json, or a built-in's). */
export interface ModelDims {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads?: number;
  head_dim?: number;
  vocab_size: number;
  tie_word_embeddings?: boolean;
}

/** Weights of a Llama/Qwen2-style decoder: attention (q, k, v, o), the gated MLP and the embeddings. */
export function approxParams(d: ModelDims): number {
  const h = d.hidden_size;
  const headDim = d.head_dim ?? h / d.num_attention_heads;
  const kv = (d.num_key_value_heads ?? d.num_attention_heads) * headDim;
  const perLayer = 2 * h * h + 2 * h * kv + 3 * h * d.intermediate_size;
  const embeddings = d.vocab_size * h * (d.tie_word_embeddings === false ? 2 : 1);
  return d.num_hidden_layers * perLayer + embeddings;
}

export interface BudgetLimits {
  /** Tokens one step may sample and train on; more is refused. */
  maxTokensPerStep: number;
  /** Sustained FLOP/s assumed for one device slot, for the step-time estimate. */
  slotFlops: number;
  /** A step estimated to take longer than this is accepted with a warning. */
  warnStepSeconds: number;
}

export interface StepBudget {
  /** group_size × prompts_per_step × (longest prompt + max_new_tokens). */
  tokensPerStep: number;
  /** Rough wall time of one step on one slot: sampling (2 FLOPs/param/token) + training (6), at `slotFlops`. */
  estStepSeconds?: number;
  issues: ConfigIssue[];
  warnings: string[];
}

const FLOPS_PER_PARAM_TOKEN = 8;

/**
 * The compute one step of a run asks for, checked when the job is created: a step far beyond any device's
 * reach (1024 × 4096 × 1000 tokens) is refused naming the fields that set it, and a step that is merely slow is
 * accepted with a warning saying how slow, so nobody waits hours for a first metric unaware.
 */
export function stepBudget(
  run: { sampling: { group_size: number; prompts_per_step: number; max_new_tokens: number } },
  promptTokens: number,
  limits: BudgetLimits,
  model?: ModelDims,
): StepBudget {
  const { group_size: g, prompts_per_step: b, max_new_tokens: n } = run.sampling;
  const tokensPerStep = g * b * (Math.max(1, promptTokens) + n);
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];
  if (tokensPerStep > limits.maxTokensPerStep) {
    const reason =
      `one step would sample and train on ${tokensPerStep.toLocaleString('en-US')} tokens ` +
      `(group_size ${g} × prompts_per_step ${b} × (prompt ${promptTokens} + max_new_tokens ${n})), ` +
      `over the limit of ${limits.maxTokensPerStep.toLocaleString('en-US')} per step; lower one of them`;
    for (const field of ['sampling.group_size', 'sampling.prompts_per_step', 'sampling.max_new_tokens'])
      issues.push({ field, reason });
  }
  let estStepSeconds: number | undefined;
  if (model && limits.slotFlops > 0) {
    estStepSeconds = (approxParams(model) * tokensPerStep * FLOPS_PER_PARAM_TOKEN) / limits.slotFlops;
    if (!issues.length && estStepSeconds > limits.warnStepSeconds)
      warnings.push(
        `one step is estimated at ~${Math.round(estStepSeconds)} s on one device slot ` +
          `(${tokensPerStep.toLocaleString('en-US')} tokens × ~${(approxParams(model) / 1e6).toFixed(1)}M parameters); ` +
          `lower sampling.group_size, sampling.prompts_per_step or sampling.max_new_tokens for faster steps`,
      );
  }
  return { tokensPerStep, estStepSeconds, issues, warnings };
}
