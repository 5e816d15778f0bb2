import { FieldError } from '../field-error.js';
import type { OVERLONG } from '../trainer/run-spec.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { Example } from '../trainer/types.js';

/**
 * The one place a prompt is built from an example. Rollout, eval and the overlong check all go through it, so a
 * chat template or a preset (data.prompt_template) only has to be another PromptTemplate.
 */
export type PromptTemplate = (example: Pick<Example, 'problem'>) => string;

/** The problem text as it is. */
export const problemOnly: PromptTemplate = (e) => e.problem;

export { OVERLONG as OVERLONG_POLICIES } from '../trainer/run-spec.js';
export type OverlongPolicy = (typeof OVERLONG)[number];

/** Prompt ids: BOS (when the tokenizer has one) then the text. */
export function encodePrompt(tok: Tokenizer, text: string): number[] {
  const ids = tok.encode(text);
  return tok.bosId !== undefined ? [tok.bosId, ...ids] : ids;
}

export interface OverlongCount {
  /** Prompts with more than `limit` tokens. */
  count: number;
  total: number;
  /** Prompt tokens that leave room for max_new_tokens: max_position_embeddings − max_new_tokens. */
  limit: number;
  maxPositions: number;
  maxNewTokens: number;
  longest: number;
  /** Ids of the first few overlong rows, for messages. */
  examples: string[];
}

export class OverlongError extends FieldError {
  constructor(readonly counted: OverlongCount) {
    super(
      'data.overlong',
      `${counted.count} of ${counted.total} prompts are longer than ${counted.limit} tokens ` +
        `(max_position_embeddings ${counted.maxPositions} − max_new_tokens ${counted.maxNewTokens}; ` +
        `longest ${counted.longest}, e.g. ` +
        `${counted.examples.map((id) => JSON.stringify(id)).join(', ')}): set data.overlong to skip or truncate_left, ` +
        'or lower sampling.max_new_tokens',
    );
  }
}

function promptLimit(maxPositions: number, maxNewTokens: number): number {
  const limit = maxPositions - maxNewTokens;
  if (limit < 1) {
    throw new FieldError(
      'sampling.max_new_tokens',
      `${maxNewTokens} new tokens leave no room for a prompt in the model's ${maxPositions} positions`,
    );
  }
  return limit;
}

/** Tokenizes each prompt once and applies the run's overlong policy. */
export class PromptEncoder {
  readonly limit: number;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly maxPositions: number,
    readonly maxNewTokens: number,
    readonly overlong: OverlongPolicy = 'error',
    readonly template: PromptTemplate = problemOnly,
  ) {
    this.limit = promptLimit(maxPositions, maxNewTokens);
  }

  /** The prompt's ids as the model will see them; `truncate_left` keeps BOS and the last tokens. */
  encode(example: Pick<Example, 'problem' | 'id'>): number[] {
    const ids = encodePrompt(this.tokenizer, this.template(example));
    if (ids.length <= this.limit) return ids;
    if (this.overlong !== 'truncate_left') {
      throw new OverlongError({
        count: 1,
        total: 1,
        limit: this.limit,
        maxPositions: this.maxPositions,
        maxNewTokens: this.maxNewTokens,
        longest: ids.length,
        examples: [example.id],
      });
    }
    const bos = this.tokenizer.bosId !== undefined && ids[0] === this.tokenizer.bosId;
    return bos ? [ids[0], ...ids.slice(ids.length - this.limit + 1)] : ids.slice(ids.length - this.limit);
  }

  count(examples: Example[]): OverlongCount {
    return countOverlong(examples, this.tokenizer, this.template, this.maxPositions, this.maxNewTokens);
  }

  /**
   * The examples a run uses: all of them (truncate_left), the ones that fit (skip), or a refusal naming how many
   * do not (error).
   */
  select(examples: Example[]): { examples: Example[]; overlong: OverlongCount } {
    const overlong = this.count(examples);
    if (!overlong.count || this.overlong === 'truncate_left') return { examples, overlong };
    if (this.overlong === 'error') throw new OverlongError(overlong);
    return {
      examples: examples.filter((e) => encodePrompt(this.tokenizer, this.template(e)).length <= this.limit),
      overlong,
    };
  }
}

/** How many prompts leave no room for max_new_tokens in the model's context (checkable before a run starts). */
export function countOverlong(
  examples: Example[],
  tokenizer: Tokenizer,
  template: PromptTemplate,
  maxPositions: number,
  maxNewTokens: number,
): OverlongCount {
  const limit = promptLimit(maxPositions, maxNewTokens);
  let count = 0;
  let longest = 0;
  const ids: string[] = [];
  for (const e of examples) {
    const n = encodePrompt(tokenizer, template(e)).length;
    longest = Math.max(longest, n);
    if (n > limit) {
      count++;
      if (ids.length < 3) ids.push(e.id);
    }
  }
  return { count, total: examples.length, limit, maxPositions, maxNewTokens, longest, examples: ids };
}
