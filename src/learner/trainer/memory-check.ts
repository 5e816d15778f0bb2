import { resolveConfig, type ModelConfig } from '../model/config.js';
import { backendMemoryLimit, type MemoryLimit } from '../model/memory-plan.js';
import type { ConfigIssue } from './config.js';
import { memoryIssues, type RunForEstimate } from './memory-estimate.js';

/** Tokens a prompt template may add around the problem (system prompt, chat markers); `none` adds nothing. */
const TEMPLATE_ALLOWANCE = 256;

export interface RunLengths {
  /** Characters of the longest problem the run can draw. */
  longestProblemChars: number;
  /** SFT: characters of the longest target (completion, else answer). */
  longestTargetChars?: number;
}

/**
 * Will the run fit its backend's memory? The check made at job creation (service 400) and at `popo train` start
 * (exit 2), before any weights are loaded. Prompt lengths are bounded from characters: exactly for the
 * character tokenizer (one token per character, plus BOS), and for a subword tokenizer by the characters (no
 * token is shorter than one character) plus the template's allowance, and never beyond what the context leaves
 * after max_new_tokens (longer prompts are refused, skipped or cut by data.overlong).
 */
export function runMemoryIssues(
  run: RunForEstimate & {
    backend?: string;
    data: { prompt_template: string };
  },
  model: { config: ModelConfig; charTokens: boolean },
  lengths: RunLengths,
  opts: { trainableParams?: number; siameseParams?: number; limit?: MemoryLimit } = {},
): ConfigIssue[] {
  const limit = opts.limit ?? backendMemoryLimit(run.backend ?? process.env.POPO_BACKEND ?? 'auto');
  if (limit.bytes === undefined) return [];
  let dims;
  try {
    dims = resolveConfig(model.config);
  } catch {
    return []; // an invalid config.json is reported where the model is loaded
  }
  const template = run.data.prompt_template === 'none' ? 0 : TEMPLATE_ALLOWANCE;
  const bound = (chars: number) => chars + 1 + (model.charTokens ? 0 : template);
  const room = Math.max(1, dims.maxPositions - run.sampling.max_new_tokens);
  return memoryIssues(
    {
      model: model.config,
      run,
      promptTokens: Math.min(bound(lengths.longestProblemChars), room),
      targetTokens: lengths.longestTargetChars === undefined ? undefined : lengths.longestTargetChars + 1,
      trainableParams: opts.trainableParams,
      siameseParams: opts.siameseParams,
    },
    limit.bytes,
    limit.source,
  );
}
