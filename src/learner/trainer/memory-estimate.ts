import { countParameters, resolveConfig, type ModelConfig, type ResolvedConfig } from '../model/config.js';
import { loraModules } from '../model/lora-config.js';
import { forwardBytes, generationBytes, kvCacheBytes, logitsBytes } from '../model/memory-plan.js';
import type { ConfigIssue } from './config.js';
import type { TrainConfig } from './types.js';

/**
 * The peak memory of a run, from the model's shape and the run's settings, before anything is loaded: what a job
 * is refused on at creation (service 400, `popo train` exit 2) when it cannot fit its backend. Every tensor is
 * float32. Checked against measurement (tf.profile and the wasm heap's high-water mark) in
 * memory-estimate.test.ts and bench/scale.ts: an upper bound within a small factor.
 */

const F32 = 4;
const GiB = 2 ** 30;

/**
 * Vocabulary-wide tensors of the loss, in units of the logits [rows, T, V], on top of the model's own: kept for
 * the backward pass (log-softmax and its exp and shifted input, the one-hot of the targets, its float copy and
 * product; for the entropy exp(log p) and its product) and the gradients of that size alive during backprop.
 * Fitted to the wasm heap's high-water mark of POPO steps (bench/scale.ts, 2026-11-28: a 2-layer 0.5B-shaped
 * model at a 32k vocabulary, 1 and 4 sequences × 192 tokens: 15.2 units + 2 of the largest weight) and rounded
 * up; GRPO's loss holds the same tensors, SFT's has no entropy.
 */
const LOSS_LOGITS = { popo: 17, grpo: 17, sft: 13 } as const;
/** The KL anchor's extra: ξ's logits held through the pass, its log-softmax (3), the difference, the product. */
const KL_ANCHOR_LOGITS = 7;
/**
 * During the backward pass the largest weight's gradient exists twice more (a tied embedding gets one from the
 * lookup and one from the head, then their sum).
 */
const BACKWARD_LARGEST = 2;
/** AdamW's temporaries while it updates one parameter (optimizer.ts): at most three of that parameter's size. */
const ADAM_TEMPORARIES = 4;
/** The heap grows in steps (at most 96 MiB past the request) and fragments: slack added to every peak. */
const SLACK_BYTES = 96 * 2 ** 20;
/**
 * And 10% on top: a full-depth Qwen2.5-0.5B LoRA step measured 2% over the estimate without it (creating the
 * random weights, fragmentation between the 24 layers' tensors).
 */
const MARGIN = 1.1;

export type RunForEstimate = Pick<
  TrainConfig,
  'algorithm' | 'sampling' | 'optimizer' | 'popo' | 'grpo' | 'sft' | 'lora'
>;

export interface MemoryEstimateInput {
  model: ModelConfig;
  run: RunForEstimate;
  /** Upper bound of a prompt's tokens (template included). */
  promptTokens: number;
  /** SFT: upper bound of a target's tokens; default sampling.max_new_tokens. */
  targetTokens?: number;
  /**
   * Parameters the optimizer updates (and keeps moments and gradients for); default every parameter, or the
   * adapters under run.lora.
   */
  trainableParams?: number;
  /** Largest single trainable tensor (AdamW's temporaries); default the largest weight of the model. */
  largestTrainableTensor?: number;
  /** Parameters of POPO's siamese copy ξ; default every parameter (the policy is cloned), the adapters under LoRA. */
  siameseParams?: number;
}

export interface MemoryPart {
  name: string;
  bytes: number;
}

export interface MemoryEstimate {
  parameters: number;
  trainable: number;
  /** Sequences per backward pass, and the positions of each. */
  microBatch: number;
  sequenceTokens: number;
  /** Held the whole run: weights, ξ / reference, predictor, optimizer moments. */
  resident: MemoryPart[];
  /** Each phase's own peak on top of the resident state. */
  phases: { generation: MemoryPart[]; training: MemoryPart[]; optimizer: MemoryPart[] };
  /** Generation: prompts per chunk assumed (the whole step when it fits, as the planner does). */
  generationPrompts: number;
  residentBytes: number;
  peak: number;
  peakPhase: 'generation' | 'training' | 'optimizer';
}

const sum = (parts: MemoryPart[]) => parts.reduce((a, p) => a + p.bytes, 0);

/** The largest single weight: the embedding (or the untied head) for any real vocabulary. */
function largestWeight(d: ResolvedConfig): number {
  return Math.max(d.vocab * d.hidden, d.hidden * d.intermediate, d.hidden * d.heads * d.headDim);
}

/** Sequences per backward pass: micro_batch_size, whole groups for POPO when it allows, at most the batch. */
export function microBatchRows(run: RunForEstimate): { rows: number; batch: number } {
  const batch =
    run.algorithm === 'sft' ? run.sft.batch_size : run.sampling.prompts_per_step * run.sampling.group_size;
  const m = run.optimizer.micro_batch_size;
  return { rows: m === undefined ? batch : Math.min(m, batch), batch };
}

/**
 * Peak bytes of a run. `limit` (optional) is the backend's: generation is then estimated with as many prompts
 * per chunk as fit what the resident state leaves, as the generation planner does at run time.
 */
export function estimateRunMemory(input: MemoryEstimateInput, limit?: number): MemoryEstimate {
  const { run } = input;
  const d = resolveConfig(input.model);
  // Under LoRA θ is the base plus its adapters (A [in, r], B [r, out] per targeted projection); only the
  // adapters train, ξ copies only them, and GRPO's reference is the base with the adapters off (docs/lora.md).
  const adapters = run.lora ? loraModules(d, run.lora.target_modules) : [];
  const rank = run.lora?.rank ?? 0;
  const adapterParams = adapters.reduce((a, m) => a + rank * (m.inDim + m.outDim), 0);
  const P = countParameters(input.model) + adapterParams;
  const T = input.trainableParams ?? (run.lora ? adapterParams : P);
  const G = run.sampling.group_size;
  const rollout = run.algorithm !== 'sft';
  const newTokens = rollout
    ? run.sampling.max_new_tokens
    : (input.targetTokens ?? run.sampling.max_new_tokens);
  const L = input.promptTokens + newTokens;
  const { rows: m, batch } = microBatchRows(run);
  const parts = Math.ceil(batch / m);

  const largest =
    input.largestTrainableTensor ??
    (run.lora ? Math.max(0, ...adapters.map((m) => rank * Math.max(m.inDim, m.outDim))) : largestWeight(d));
  const predictorParams = run.algorithm === 'popo' ? predictorSize(d.hidden, run.popo.predictor_dim) : 0;
  const trainable = T + predictorParams;
  const resident: MemoryPart[] = [{ name: 'parameters θ', bytes: P * F32 }];
  if (run.algorithm === 'popo') {
    resident.push({
      name: run.lora ? 'siamese ξ (its adapters)' : 'siamese ξ (EMA copy)',
      bytes: (input.siameseParams ?? (run.lora ? T : P)) * F32,
    });
    resident.push({ name: 'predictor h_φ', bytes: predictorParams * F32 });
  }
  if (run.algorithm === 'grpo' && run.grpo.kl_beta > 0 && !run.lora)
    resident.push({ name: 'GRPO reference', bytes: P * F32 });
  resident.push({ name: 'AdamW moments m, v', bytes: 2 * trainable * F32 });
  const residentBytes = sum(resident) + SLACK_BYTES;

  // Training: one micro-batch's forward under the tape and its loss, its gradients, and the running sum of the
  // earlier micro-batches' gradients.
  const fwd = forwardBytes(d, { rows: m, queries: L, keys: L, grad: true });
  const logits = logitsBytes(d, m, L);
  const lossUnits =
    LOSS_LOGITS[run.algorithm] +
    (run.algorithm === 'popo' && run.popo.alpha > 0 && run.popo.anchor === 'kl' ? KL_ANCHOR_LOGITS : 0);
  const training: MemoryPart[] = [
    { name: `activations (${m} sequences × ${L} tokens, under the gradient tape)`, bytes: fwd.peak },
    { name: `loss over the vocabulary (${lossUnits} × logits of ${fmt(logits)})`, bytes: lossUnits * logits },
    { name: 'gradients', bytes: trainable * F32 },
    { name: 'gradient sums of the largest weight', bytes: BACKWARD_LARGEST * largest * F32 },
  ];
  if (parts > 1) training.push({ name: 'accumulated gradients', bytes: trainable * F32 });
  if (adapters.length)
    training.push({
      name: 'adapter activations (dropout(x), A·x, B·A·x per targeted projection)',
      bytes: m * L * adapters.reduce((a, p) => a + p.inDim + rank + 2 * p.outDim, 0) * F32,
    });
  // What lives beside the pass: ξ's features (POPO), the old / reference log-probs (GRPO), the batch itself.
  if (run.algorithm === 'popo' && run.popo.alpha > 0)
    training.push({ name: "ξ's hidden states", bytes: m * L * d.hidden * F32 });
  training.push({ name: 'batch tensors', bytes: 6 * batch * L * F32 });

  const optimizer: MemoryPart[] = [
    { name: 'gradients', bytes: trainable * F32 },
    { name: 'AdamW temporaries (one parameter)', bytes: ADAM_TEMPORARIES * largest * F32 },
  ];

  let generation: MemoryPart[] = [];
  let generationPrompts = 0;
  if (rollout) {
    const B = run.sampling.prompts_per_step;
    const gen = (p: number) =>
      generationBytes(d, p, input.promptTokens, G, newTokens, input.promptTokens).peak;
    // As the planner (memory-plan.ts): as many prompts per chunk as fit; at least one.
    const room = limit === undefined ? Number.POSITIVE_INFINITY : limit / MARGIN - residentBytes;
    generationPrompts = largestFitting(B, (p) => gen(p) <= room);
    generation = [
      {
        name: `generation (${generationPrompts} prompt${generationPrompts > 1 ? 's' : ''} × ${G} samples × ${L} tokens; KV cache ${fmt(kvCacheBytes(d, generationPrompts * G, L))})`,
        bytes: gen(generationPrompts),
      },
    ];
  }
  const phases = { generation, training, optimizer };
  const peaks = {
    generation: sum(generation),
    training: sum(training),
    optimizer: sum(optimizer),
  };
  const peakPhase = (Object.keys(peaks) as (keyof typeof peaks)[]).reduce((a, b) =>
    peaks[b] > peaks[a] ? b : a,
  );
  return {
    parameters: P,
    trainable,
    microBatch: m,
    sequenceTokens: L,
    resident,
    phases,
    generationPrompts,
    residentBytes,
    peak: MARGIN * (residentBytes + peaks[peakPhase]),
    peakPhase,
  };
}

/** The largest n in [1, max] for which ok(n) holds (ok is monotone; 1 when none does). */
function largestFitting(max: number, ok: (n: number) => boolean): number {
  let lo = 1;
  let hi = max;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

function predictorSize(h: number, dim: number | undefined): number {
  const k = dim ?? h;
  return h * k + k + 2 * k + k * h + h;
}

export function fmt(bytes: number): string {
  return bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * Why a run does not fit `limit` bytes, as field-named issues that say what to change: the resident state alone
 * (the model is too big for the backend), one sequence's training pass (shorter completions), the micro-batch
 * (the largest that fits), or generation.
 */
export function memoryIssues(input: MemoryEstimateInput, limit: number, limitSource: string): ConfigIssue[] {
  const e = estimateRunMemory(input, limit);
  if (e.peak <= limit) return [];
  const where = `${fmt(limit)} (${limitSource})`;
  const summary = `the run needs about ${fmt(e.peak)} at its peak (${e.peakPhase}), more than ${where}`;
  const stateBytes = MARGIN * (e.residentBytes + sum(e.phases.optimizer));
  if (stateBytes > limit) {
    const names = [...e.resident, ...e.phases.optimizer].map((p) => `${p.name} ${fmt(p.bytes)}`).join(', ');
    return [
      {
        field: 'model',
        reason:
          `${summary}: the model's state alone is ${fmt(stateBytes)} (${names}); ` +
          (input.run.lora ? '' : 'train fewer parameters (lora), or ') +
          'run on a worker with more memory (POPO_MEMORY_BUDGET_MB sets a GPU worker’s limit)',
      },
    ];
  }
  const fits = (patch: (r: RunForEstimate) => RunForEstimate) =>
    estimateRunMemory({ ...input, run: patch(input.run) }, limit).peak <= limit;
  const withMicro = (k: number) => (r: RunForEstimate) => ({
    ...r,
    optimizer: { ...r.optimizer, micro_batch_size: k },
  });
  const issues: ConfigIssue[] = [];
  if (e.peakPhase !== 'generation' && e.microBatch > 1 && fits(withMicro(1))) {
    const k = largestFitting(e.microBatch, (m) => fits(withMicro(m)));
    issues.push({
      field: 'optimizer.micro_batch_size',
      reason: `${summary}; ${k} sequence${k > 1 ? 's' : ''} per backward pass fit${k > 1 ? '' : 's'}: set optimizer.micro_batch_size to at most ${k}`,
    });
    return issues;
  }
  // Even one sequence per pass (or generation) does not fit: the sequences are too long.
  const micro = e.microBatch > 1 ? ' with optimizer.micro_batch_size 1' : '';
  if (input.run.algorithm === 'sft') {
    issues.push({
      field: 'data',
      reason: `${summary}; the longest example (${e.sequenceTokens} tokens) does not fit even one at a time`,
    });
    return issues;
  }
  const withTokens = (k: number) => (r: RunForEstimate) =>
    withMicro(1)({ ...r, sampling: { ...r.sampling, max_new_tokens: k } });
  let n = input.run.sampling.max_new_tokens - 1;
  while (n >= 1 && !fits(withTokens(n))) n = Math.floor(n * 0.8);
  issues.push({
    field: 'sampling.max_new_tokens',
    reason:
      `${summary}; ` +
      (n >= 1
        ? `at most about ${n} new tokens fit${micro}: lower sampling.max_new_tokens` +
          (e.microBatch > 1 ? ' and set optimizer.micro_batch_size' : '')
        : `even one new token does not fit after a ${input.promptTokens}-token prompt`),
  });
  if (e.peakPhase === 'generation' && input.run.sampling.group_size > 2)
    issues.push({
      field: 'sampling.group_size',
      reason: `${summary}; generation holds the KV cache of group_size samples per prompt: a smaller group also helps`,
    });
  return issues;
}
