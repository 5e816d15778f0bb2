import type { CausalLM } from '../model/causal-lm.js';
import { defaultBudget, type MemoryBudget, planGeneration } from '../model/memory-plan.js';
import { type GenerateOptions, type GenerationResult, generate } from './generate.js';

/** What callers keep of a generation: per-row ids and log-probs, without the padded tensors of one batch. */
export type Samples = Pick<
  GenerationResult,
  | 'numPrompts'
  | 'numReturnSequences'
  | 'promptIndex'
  | 'promptIds'
  | 'completionIds'
  | 'sampledLogprobs'
  | 'policyLogprobs'
  | 'finishReasons'
>;

export interface ChunkedOptions extends Omit<GenerateOptions, 'prefillTokens'> {
  /** Default: the backend's limit less what is allocated now (memory-plan.ts). */
  budget?: MemoryBudget;
  /** Sampled logits are copied to JS each step: rows × vocab floats, held under this many bytes. Default 256 MiB. */
  hostLogitsBytes?: number;
}

/**
 * generate() over any number of prompts, in consecutive chunks sized by the memory planner: each chunk takes as
 * many prompts as fit the budget at its longest prompt, and prefills in slices when a whole prompt does not fit.
 * Rows stay prompt-major over the whole input (row r = sample r % G of prompt floor(r / G)). Yields to the event
 * loop between chunks so progress output and signals get through.
 */
export async function generateChunked(
  model: CausalLM,
  prompts: number[][],
  opts: ChunkedOptions,
): Promise<Samples> {
  const G = opts.numReturnSequences ?? 1;
  const budget = opts.budget ?? defaultBudget();
  const hostCap = Math.max(
    1,
    Math.floor((opts.hostLogitsBytes ?? 256 * 2 ** 20) / (G * model.dims.vocab * 4)),
  );
  const out: Samples = {
    numPrompts: prompts.length,
    numReturnSequences: G,
    promptIndex: [],
    promptIds: [],
    completionIds: [],
    sampledLogprobs: [],
    policyLogprobs: [],
    finishReasons: [],
  };
  const plan = (longest: number) =>
    planGeneration(model.dims, longest, G, opts.maxNewTokens, budget, hostCap);
  for (let start = 0; start < prompts.length;) {
    let end = start + 1;
    let longest = prompts[start]?.length ?? 0;
    let current = plan(longest);
    while (end < prompts.length) {
      const l = Math.max(longest, prompts[end].length);
      const p = l === longest ? current : plan(l);
      if (p.promptsPerChunk < end - start + 1) break;
      longest = l;
      current = p;
      end++;
    }
    const gen = await generate(model, prompts.slice(start, end), {
      ...opts,
      prefillTokens: current.prefillTokens,
    });
    out.promptIndex.push(...gen.promptIndex.map((i) => i + start));
    out.promptIds.push(...gen.promptIds);
    out.completionIds.push(...gen.completionIds);
    out.sampledLogprobs.push(...gen.sampledLogprobs);
    out.policyLogprobs.push(...gen.policyLogprobs);
    out.finishReasons.push(...gen.finishReasons);
    start = end;
    await new Promise((r) => setImmediate(r));
  }
  return out;
}
