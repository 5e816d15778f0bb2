import { totalmem } from 'node:os';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import type { ResolvedConfig } from './config.js';
import { ModelError } from './errors.js';

/**
 * Bytes a forward pass will allocate, computed from the model shape before anything is allocated, and the chunk
 * sizes that keep generation under a budget. Every tensor is float32 (4 bytes).
 *
 * Why: the wasm backend's heap stops at 4 GiB and, when malloc fails there, the next kernel writes through a
 * null pointer ("memory access out of bounds", "remainder by zero", "table index is out of bounds") and the
 * module stays broken ("Aborted()") for the life of the process. Nothing may ask it for more than it has.
 */

const F32 = 4;

/** The wasm module's heap ceiling (emscripten getHeapMax() in tfjs-backend-wasm 4.x: 4 GiB − 64 KiB). */
export const WASM_HEAP_BYTES = 4294901760;

export interface MemoryBudget {
  /** Bytes a pass may add on top of what is already allocated. */
  bytes: number;
  /** Largest single tensor: wasm kernels index with 32-bit sizes and a big block fragments the heap. */
  maxTensorBytes: number;
  /** How the number was chosen, for messages. */
  source: string;
}

const GiB = 2 ** 30;

/**
 * The active backend's limit less what is allocated now, with 15% left for fragmentation and small tensors.
 * wasm: its heap (above); cpu: typed arrays outside the JS heap, held to half the machine's memory;
 * native tensorflow: half the machine's memory. POPO_MEMORY_BUDGET_MB overrides the limit (tests, small hosts).
 */
export function defaultBudget(): MemoryBudget {
  const backend = tf.getBackend();
  const env = Number(process.env.POPO_MEMORY_BUDGET_MB);
  let limit: number;
  let source: string;
  if (Number.isFinite(env) && env > 0) {
    limit = env * 2 ** 20;
    source = `POPO_MEMORY_BUDGET_MB=${env}`;
  } else if (backend === 'wasm') {
    limit = WASM_HEAP_BYTES;
    source = 'the wasm heap (4 GiB)';
  } else {
    limit = totalmem() / 2;
    source = `half of this machine's memory (${(limit / GiB).toFixed(1)} GiB)`;
  }
  const inUse = tf.memory().numBytes;
  return {
    bytes: Math.max(0, (limit - inUse) * 0.85),
    maxTensorBytes: backend === 'wasm' ? GiB : 2 * GiB,
    source,
  };
}

/** Keys and values of `tokens` positions for `rows` sequences, all layers. */
export function kvCacheBytes(d: ResolvedConfig, rows: number, tokens: number): number {
  return 2 * d.layers * rows * d.kvHeads * d.headDim * tokens * F32;
}

/** One layer's attention scores [rows, heads, queries, keys]. */
export function attentionScoresBytes(d: ResolvedConfig, rows: number, queries: number, keys: number): number {
  return rows * d.heads * queries * keys * F32;
}

/** Logits [rows, positions, vocab]. */
export function logitsBytes(d: ResolvedConfig, rows: number, positions: number): number {
  return rows * positions * d.vocab * F32;
}

export interface ForwardShape {
  rows: number;
  /** New tokens in this pass. */
  queries: number;
  /** Positions attended: cached + new. */
  keys: number;
  /** Logits for the last position only (generation). */
  lastOnly?: boolean;
  /** Under a gradient tape: every layer's activations stay alive until the backward pass. */
  grad?: boolean;
}

export interface ForwardBytes {
  attentionScores: number;
  logits: number;
  /** Activations of one layer that die with it (inference) or are kept for the backward pass (grad). */
  layerActivations: number;
  /** The additive causal + padding mask. */
  mask: number;
  peak: number;
  /** The biggest single tensor. */
  largestTensor: number;
}

/**
 * Peak bytes one CausalLM.forward adds. Constants come from the forward's own tensors (causal-lm.ts): per token
 * and layer about 16 hidden-wide tensors (norms, q/k/v, rotary, head transposes, residuals) and 5 MLP-wide ones;
 * the scores exist ~4 times over (matMul, + mask, softmax and its exp). Checked against tf.profile's peak in
 * memory-plan.test.ts.
 */
export function forwardBytes(d: ResolvedConfig, s: ForwardShape): ForwardBytes {
  const tokens = s.rows * s.queries;
  const attentionScores = attentionScoresBytes(d, s.rows, s.queries, s.keys);
  const perToken = (16 * d.hidden + 2 * d.kvHeads * d.headDim + 5 * d.intermediate) * F32;
  const layerActivations = tokens * perToken;
  const logitRows = s.lastOnly ? 1 : s.queries;
  const logits = logitsBytes(d, s.rows, logitRows);
  const mask = (s.queries * (d.heads / d.kvHeads) + s.rows) * s.keys * F32 * 2;
  const newKv = kvCacheBytes(d, s.rows, s.keys);
  const embeddings = 4 * tokens * d.hidden * F32;
  const peak = s.grad
    ? d.layers * (layerActivations + 2 * attentionScores) +
      2 * attentionScores +
      3 * logits +
      mask +
      embeddings
    : 1.5 * (layerActivations + 4 * attentionScores + 2 * logits + mask + newKv + embeddings);
  return {
    attentionScores,
    logits,
    layerActivations,
    mask,
    peak,
    largestTensor: Math.max(attentionScores, logits, tokens * d.intermediate * F32),
  };
}

/** Refuses a forward pass that would not fit, before it allocates anything. */
export function assertForwardFits(d: ResolvedConfig, s: ForwardShape, budget = defaultBudget()): void {
  const b = forwardBytes(d, s);
  const mb = (x: number) => `${(x / 2 ** 20).toFixed(0)} MiB`;
  if (b.peak > budget.bytes || b.largestTensor > budget.maxTensorBytes) {
    throw new ModelError(
      'out_of_memory',
      `forward of ${s.rows} rows × ${s.queries} tokens (${s.keys} attended${s.grad ? ', with gradients' : ''}) ` +
        `needs about ${mb(b.peak)} (attention scores ${mb(b.attentionScores)} per layer, logits ${mb(b.logits)}); ` +
        `${mb(budget.bytes)} is free under ${budget.source}, largest tensor allowed ${mb(budget.maxTensorBytes)}: ` +
        'use fewer rows per micro-batch or shorter sequences',
    );
  }
}

export interface GenerationPlan {
  /** Prompts per generate() call. */
  promptsPerChunk: number;
  /** Prompt tokens per prefill pass. */
  prefillTokens: number;
  /** Estimated peak of one chunk. */
  peakBytes: number;
}

/** Peak of generating for `prompts` prompts of ≤ `promptLength` tokens, G samples each, prefilled `prefill` at a time. */
export function generationBytes(
  d: ResolvedConfig,
  prompts: number,
  promptLength: number,
  samples: number,
  maxNewTokens: number,
  prefill: number,
): { peak: number; largestTensor: number } {
  const rows = prompts * samples;
  const total = promptLength + maxNewTokens;
  const pre = forwardBytes(d, {
    rows: prompts,
    queries: Math.min(prefill, promptLength),
    keys: promptLength,
    lastOnly: true,
  });
  // While the cache is repeated G times both copies are alive.
  const repeat = kvCacheBytes(d, prompts, promptLength) + kvCacheBytes(d, rows, promptLength);
  const decode = forwardBytes(d, { rows, queries: 1, keys: total, lastOnly: true });
  const cacheFull = kvCacheBytes(d, rows, total);
  const peak = Math.max(pre.peak + kvCacheBytes(d, prompts, promptLength), repeat, decode.peak + cacheFull);
  return { peak, largestTensor: Math.max(pre.largestTensor, decode.largestTensor) };
}

/**
 * The largest prefill chunk for a given number of prompts, then the most prompts whose generation fits the budget.
 * A plan of 1 prompt that still does not fit is refused with the sizes (the model is too big for the backend).
 */
export function planGeneration(
  d: ResolvedConfig,
  promptLength: number,
  samples: number,
  maxNewTokens: number,
  budget: MemoryBudget = defaultBudget(),
  maxPrompts = Number.POSITIVE_INFINITY,
): GenerationPlan {
  const fits = (p: number, c: number) => {
    const g = generationBytes(d, p, promptLength, samples, maxNewTokens, c);
    return g.peak <= budget.bytes && g.largestTensor <= budget.maxTensorBytes ? g.peak : -1;
  };
  const bestPrefill = (p: number): number => {
    // Whole prompt when it fits, else halve down to one token at a time.
    for (let c = promptLength; c >= 1; c = c === 1 ? 0 : Math.max(1, Math.floor(c / 2)))
      if (fits(p, c) >= 0) return c;
    return 0;
  };
  if (!bestPrefill(1)) {
    const g = generationBytes(d, 1, promptLength, samples, maxNewTokens, 1);
    throw new ModelError(
      'out_of_memory',
      `generating ${samples} × ${maxNewTokens} tokens after a ${promptLength}-token prompt needs about ` +
        `${(g.peak / 2 ** 20).toFixed(0)} MiB, more than the ${(budget.bytes / 2 ** 20).toFixed(0)} MiB free under ${budget.source}`,
    );
  }
  // Binary search on prompts per chunk (peak grows with it).
  let lo = 1;
  let hi = Math.max(1, Math.min(maxPrompts, 4096));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (bestPrefill(mid)) lo = mid;
    else hi = mid - 1;
  }
  const prefillTokens = bestPrefill(lo);
  return {
    promptsPerChunk: lo,
    prefillTokens,
    peakBytes: generationBytes(d, lo, promptLength, samples, maxNewTokens, prefillTokens).peak,
  };
}

export interface MemoryLimit {
  /** Undefined when not known (a GPU's memory, unless configured). */
  bytes?: number;
  source: string;
}

/**
 * What a backend can give a run, known before it is started (for checks at job creation): wasm its heap;
 * cpu and native tensorflow half the machine's memory; a GPU's memory is not known here, so a GPU worker's
 * limit is configured with POPO_MEMORY_BUDGET_MB (which overrides every backend's). `auto` is the backend that
 * initBackend would pick: the first native package installed, else wasm.
 */
export function backendMemoryLimit(backend: string, env = process.env): MemoryLimit {
  const configured = Number(env.POPO_MEMORY_BUDGET_MB);
  if (Number.isFinite(configured) && configured > 0)
    return { bytes: configured * 2 ** 20, source: `POPO_MEMORY_BUDGET_MB=${configured}` };
  const name = backend === 'auto' ? autoBackend() : backend;
  if (name === 'wasm') return { bytes: WASM_HEAP_BYTES, source: 'the wasm heap' };
  if (name === 'tensorflow-gpu' || name === 'webgpu')
    return {
      source: 'a GPU worker; set POPO_MEMORY_BUDGET_MB to its device memory to check runs against it',
    };
  return { bytes: totalmem() / 2, source: `half of this machine's memory on the ${name} backend` };
}

function autoBackend(): string {
  const require = createRequire(import.meta.url);
  for (const [pkg, name] of [
    ['@tensorflow/tfjs-node-gpu', 'tensorflow-gpu'],
    ['@tensorflow/tfjs-node', 'tensorflow'],
  ] as const) {
    try {
      require.resolve(pkg);
      return name;
    } catch {
      // not installed
    }
  }
  return 'wasm';
}
