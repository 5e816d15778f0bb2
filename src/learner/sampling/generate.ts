import * as tf from '@tensorflow/tfjs-core';
import type { CausalLM } from '../model/causal-lm.js';
import { KVCache } from '../model/kv-cache.js';
import type { Rng } from '../util/random.js';
import { buildProcessors, type LogitsProcessor, logSoftmaxAt, softmax } from './processors.js';

export type FinishReason = 'eos' | 'stop' | 'length';

export interface GenerateOptions {
  /** Source of all sampling randomness; advanced in place (save rng.state() to resume). */
  rng: Rng;
  maxNewTokens: number;
  /** Completions per prompt (G). Default 1. */
  numReturnSequences?: number;
  /** 0 = greedy. Default 1. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Replaces the temperature/top-k/top-p chain when given. */
  processors?: LogitsProcessor[];
  /** Default: config.eos_token_id. */
  eosTokenId?: number | number[] | null;
  /** Filler for left padding and finished rows. Default: config.pad_token_id, else 0. */
  padTokenId?: number;
  /** Finish a row once its decoded completion contains one of these (the tokens are kept). Needs `decode`. */
  stopStrings?: string[];
  decode?: (ids: number[]) => string;
  /** Prompt tokens per prefill pass (default: the whole prompt); bounds the attention scores, see memory-plan.ts. */
  prefillTokens?: number;
}

/**
 * Rows are prompt-major: row r holds sample r % G of prompt floor(r / G).
 * `inputIds` etc. are ready for CausalLM.forward: prompts left-padded to `promptLength`, completions
 * right-padded to `completionLength`.
 */
export interface GenerationResult {
  numPrompts: number;
  numReturnSequences: number;
  promptIndex: number[];
  promptIds: number[][];
  completionIds: number[][];
  /** log-prob of each sampled token under the distribution it was drawn from (after temperature/top-k/top-p). */
  sampledLogprobs: number[][];
  /** log-prob of each sampled token under the raw policy (temperature 1, no truncation): GRPO's "old" log-probs. */
  policyLogprobs: number[][];
  finishReasons: FinishReason[];
  promptLength: number;
  completionLength: number;
  inputIds: number[][];
  attentionMask: number[][];
  completionMask: number[][];
}

function validate(model: CausalLM, prompts: number[][], o: GenerateOptions): void {
  if (!Array.isArray(prompts) || prompts.length === 0) throw new Error('prompts: need at least one prompt');
  const vocab = model.dims.vocab;
  prompts.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0)
      throw new Error(`prompts[${i}]: must be a non-empty array of token ids`);
    for (const id of p) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new Error(`prompts[${i}]: token id ${id} is outside the vocabulary [0, ${vocab})`);
      }
    }
  });
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 1) {
    throw new Error(`maxNewTokens: must be a positive integer, got ${o.maxNewTokens}`);
  }
  const g = o.numReturnSequences ?? 1;
  if (!Number.isInteger(g) || g < 1)
    throw new Error(`numReturnSequences: must be a positive integer, got ${g}`);
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`temperature: must be ≥ 0, got ${t}`);
  if (o.stopStrings?.length && !o.decode)
    throw new Error('stopStrings: a decode(ids) function is required to match them');
  const longest = Math.max(...prompts.map((p) => p.length));
  if (longest + o.maxNewTokens > model.dims.maxPositions) {
    throw new Error(
      `maxNewTokens: prompt length ${longest} + ${o.maxNewTokens} new tokens exceeds max_position_embeddings (${model.dims.maxPositions})`,
    );
  }
}

function eosSet(model: CausalLM, o: GenerateOptions): Set<number> {
  const e = o.eosTokenId !== undefined ? o.eosTokenId : model.config.eos_token_id;
  if (e === null || e === undefined) return new Set();
  return new Set(Array.isArray(e) ? e : [e]);
}

/** Run one forward step through the cache and return last-position logits as a [rows × V] Float32Array. */
async function step(
  model: CausalLM,
  ids: number[][],
  mask: number[][],
  cache: KVCache,
): Promise<Float32Array> {
  const logits = tf.tidy(() => {
    const inputIds = tf.tensor2d(ids, [ids.length, ids[0].length], 'int32');
    const attentionMask = tf.tensor2d(mask, [mask.length, mask[0].length], 'int32');
    return model.forward(inputIds, { attentionMask, cache, lastOnly: true }).logits;
  });
  // Read outside tidy: tidy walks a returned typed array element by element looking for tensors.
  try {
    return Float32Array.from(await logits.data());
  } finally {
    logits.dispose();
  }
}

/**
 * Sample G completions for each prompt with a KV cache: prefill the B prompts once, repeat the cache rows G
 * times, then decode one token per step. Logits are copied to the CPU and sampled from `rng` in JS, so a seed
 * gives the same tokens on every backend.
 */
export async function generate(
  model: CausalLM,
  prompts: number[][],
  opts: GenerateOptions,
): Promise<GenerationResult> {
  validate(model, prompts, opts);
  const G = opts.numReturnSequences ?? 1;
  const B = prompts.length;
  const N = B * G;
  const V = model.dims.vocab;
  const pad =
    opts.padTokenId ?? (typeof model.config.pad_token_id === 'number' ? model.config.pad_token_id : 0);
  const eos = eosSet(model, opts);
  const greedy = (opts.temperature ?? 1) === 0;
  const processors = opts.processors ?? buildProcessors(opts);
  const stops = opts.stopStrings?.filter((s) => s.length > 0) ?? [];
  const rng = opts.rng;

  const Tp = Math.max(...prompts.map((p) => p.length));
  const promptIds: number[][] = [];
  const promptIndex: number[] = [];
  for (let r = 0; r < N; r++) {
    promptIndex.push(Math.floor(r / G));
    promptIds.push([...prompts[Math.floor(r / G)]]);
  }
  const completionIds: number[][] = Array.from({ length: N }, () => []);
  const sampledLogprobs: number[][] = Array.from({ length: N }, () => []);
  const policyLogprobs: number[][] = Array.from({ length: N }, () => []);
  const finish: (FinishReason | null)[] = new Array(N).fill(null);

  const cache = new KVCache(model.dims.layers);
  try {
    const padded = prompts.map((p) => [...new Array(Tp - p.length).fill(pad), ...p]);
    const pmask = prompts.map((p) => [...new Array(Tp - p.length).fill(0), ...new Array(p.length).fill(1)]);
    // Long prompts go through the cache a slice at a time: scores are [B, heads, slice, keys so far].
    const slice = Math.max(1, Math.min(Tp, opts.prefillTokens ?? Tp));
    let prefill: Float32Array = new Float32Array(0);
    for (let c = 0; c < Tp; c += slice) {
      const cut = (rows: number[][]) => rows.map((r) => r.slice(c, c + slice));
      prefill = await step(model, cut(padded), cut(pmask), cache);
    }
    let logits: Float32Array = new Float32Array(N * V);
    for (let r = 0; r < N; r++)
      logits.set(prefill.subarray(promptIndex[r] * V, (promptIndex[r] + 1) * V), r * V);
    if (G > 1) cache.selectRows(promptIndex);

    for (let t = 0; t < opts.maxNewTokens; t++) {
      const next: number[][] = [];
      const nextMask: number[][] = [];
      for (let r = 0; r < N; r++) {
        if (finish[r] !== null) {
          next.push([pad]);
          nextMask.push([0]);
          continue;
        }
        const raw = logits.subarray(r * V, (r + 1) * V);
        const row = Float32Array.from(raw);
        for (const p of processors)
          p.process(row, { row: r, prompt: promptIds[r], completion: completionIds[r] });
        let token: number;
        let lp: number;
        if (greedy) {
          token = 0;
          for (let i = 1; i < V; i++) if (row[i] > row[token]) token = i;
          lp = 0;
        } else {
          const probs = softmax(row);
          const u = rng.next();
          let acc = 0;
          token = -1;
          for (let i = 0; i < V; i++) {
            if (probs[i] === 0) continue;
            acc += probs[i];
            token = i;
            if (u < acc) break;
          }
          lp = Math.log(probs[token]);
        }
        completionIds[r].push(token);
        sampledLogprobs[r].push(lp);
        policyLogprobs[r].push(logSoftmaxAt(raw, token));
        if (eos.has(token)) finish[r] = 'eos';
        else if (stops.length && stops.some((s) => opts.decode!(completionIds[r]).includes(s)))
          finish[r] = 'stop';
        next.push([token]);
        nextMask.push([1]);
      }
      if (t === opts.maxNewTokens - 1 || finish.every((f) => f !== null)) break;
      logits = await step(model, next, nextMask, cache);
    }
  } finally {
    cache.dispose();
  }

  const finishReasons = finish.map((f) => f ?? 'length');
  const Tc = Math.max(...completionIds.map((c) => c.length));
  const inputIds: number[][] = [];
  const attentionMask: number[][] = [];
  const completionMask: number[][] = [];
  for (let r = 0; r < N; r++) {
    const p = promptIds[r];
    const c = completionIds[r];
    const lpad = Tp - p.length;
    const rpad = Tc - c.length;
    inputIds.push([...new Array(lpad).fill(pad), ...p, ...c, ...new Array(rpad).fill(pad)]);
    attentionMask.push([
      ...new Array(lpad).fill(0),
      ...new Array(p.length + c.length).fill(1),
      ...new Array(rpad).fill(0),
    ]);
    completionMask.push([
      ...new Array(Tp).fill(0),
      ...new Array(c.length).fill(1),
      ...new Array(rpad).fill(0),
    ]);
  }
  return {
    numPrompts: B,
    numReturnSequences: G,
    promptIndex,
    promptIds,
    completionIds,
    sampledLogprobs,
    policyLogprobs,
    finishReasons,
    promptLength: Tp,
    completionLength: Tc,
    inputIds,
    attentionMask,
    completionMask,
  };
}

/** The padded batch as tensors for forward() and the losses: ids int32, masks float32, all [rows, Tp + Tc]. */
export function generationTensors(res: GenerationResult): {
  inputIds: tf.Tensor2D;
  attentionMask: tf.Tensor2D;
  completionMask: tf.Tensor2D;
} {
  const shape: [number, number] = [res.inputIds.length, res.promptLength + res.completionLength];
  return {
    inputIds: tf.tensor2d(res.inputIds, shape, 'int32'),
    attentionMask: tf.tensor2d(res.attentionMask, shape, 'float32'),
    completionMask: tf.tensor2d(res.completionMask, shape, 'float32'),
  };
}
