import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promptFormat, type PromptTemplateName } from '../data/prompt-template.js';
import { countOverlong, OverlongError, type OverlongCount } from '../data/prompt.js';
import { BUILTIN_MODELS, type ModelConfig } from '../model/config.js';
import { getTask } from '../tasks/index.js';
import { CharTokenizer } from '../tokenizer/char-tokenizer.js';
import { loadTokenizer } from '../tokenizer/load-tokenizer.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import type { ConfigIssue } from './config.js';
import type { Example } from './types.js';

/** What a run needs to know about its model before loading it: the context size and how prompts are counted. */
export interface ModelContext {
  maxPositions: number;
  /** One token per character (+ BOS): the built-in tokenizer. Otherwise prompt lengths are not known in tokens. */
  charTokens: boolean;
}

/** A built-in model's context from its known config; a directory's from config.json (the loader's default 2048). */
export function modelContext(model: { builtin?: string; path?: string }): ModelContext | undefined {
  if (model.builtin) {
    const cfg = BUILTIN_MODELS[model.builtin];
    return cfg ? { maxPositions: Number(cfg.max_position_embeddings ?? 2048), charTokens: true } : undefined;
  }
  if (!model.path || !existsSync(join(model.path, 'config.json'))) return undefined;
  try {
    const cfg = JSON.parse(readFileSync(join(model.path, 'config.json'), 'utf8')) as Record<string, unknown>;
    const charTokens = !existsSync(join(model.path, 'tokenizer.json'));
    const max = cfg.max_position_embeddings;
    return { maxPositions: typeof max === 'number' && max > 0 ? max : 2048, charTokens };
  } catch {
    return undefined;
  }
}

/**
 * The prompt (BOS + problem) plus max_new_tokens must fit the model's positions, or generation fails on the first
 * step. With `data.overlong` other than `error`, long prompts are the trainer's to skip or cut, but the completion
 * alone must still fit.
 */
export function contextIssues(
  run: {
    sampling: { max_new_tokens: number };
    eval?: { max_new_tokens?: number };
    data: { overlong: string };
  },
  model: ModelContext,
  longestProblemChars: number,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const [field, newTokens] of [
    ['sampling.max_new_tokens', run.sampling.max_new_tokens],
    ['eval.max_new_tokens', run.eval?.max_new_tokens],
  ] as const) {
    if (newTokens === undefined) continue;
    const prompt = model.charTokens && run.data.overlong === 'error' ? longestProblemChars + 1 : 1;
    if (prompt + newTokens <= model.maxPositions) continue;
    const what =
      prompt > 1
        ? `the longest prompt (${prompt} tokens) + max_new_tokens (${newTokens})`
        : `max_new_tokens (${newTokens}) + 1`;
    issues.push({
      field,
      reason: `${what} exceeds the model's max_position_embeddings (${model.maxPositions})${
        prompt > 1 ? '; lower it, shorten the problems or set data.overlong to skip or truncate_left' : ''
      }`,
    });
  }
  return issues;
}

/**
 * The tokenizer a model speaks, without loading its weights: the character tokenizer of the built-in models, a
 * directory's tokenizer.json (or the char marker of an exported built-in). Undefined when there is none to read.
 */
export function modelTokenizer(model: { builtin?: string; path?: string }): Tokenizer | undefined {
  if (model.builtin) return BUILTIN_MODELS[model.builtin] ? new CharTokenizer() : undefined;
  if (!model.path) return undefined;
  try {
    if (existsSync(join(model.path, 'tokenizer.json'))) return loadTokenizer(model.path);
    const cfg = JSON.parse(readFileSync(join(model.path, 'tokenizer_config.json'), 'utf8')) as {
      popo_tokenizer?: string;
    };
    return cfg.popo_tokenizer ? loadTokenizer(cfg.popo_tokenizer) : undefined;
  } catch {
    return undefined;
  }
}

/** What overlongIssues reads of a run. */
export interface PromptRun {
  algorithm: string;
  sampling: { max_new_tokens: number };
  eval: { max_new_tokens?: number };
  data: { overlong: string; prompt_template: PromptTemplateName };
}

/**
 * Counts, exactly as the trainer will, the prompts (under the run's template) that leave no room for the
 * completion: training rows against sampling.max_new_tokens (RL only: SFT does not sample them), held-out rows
 * against the eval's limit. With data.overlong = error a run that has any is certain to fail when it starts, so it
 * is refused now, naming data.overlong with the counts. Limits that leave no room at all are contextIssues'.
 */
export function overlongIssues(
  run: PromptRun,
  maxPositions: number,
  tokenizer: Tokenizer,
  rows: { train: Pick<Example, 'id' | 'problem'>[]; test: Pick<Example, 'id' | 'problem'>[] },
): ConfigIssue[] {
  if (run.data.overlong !== 'error') return [];
  const render = promptFormat(run.data.prompt_template, tokenizer).render;
  const evalTokens = run.eval.max_new_tokens ?? run.sampling.max_new_tokens;
  const counts: { what: string; c: OverlongCount }[] = [];
  for (const [what, examples, newTokens] of [
    ['training', run.algorithm === 'sft' ? [] : rows.train, run.sampling.max_new_tokens],
    ['held-out', rows.test, evalTokens],
  ] as const) {
    if (!examples.length || maxPositions - newTokens < 1) continue;
    const c = countOverlong(examples as Example[], tokenizer, render, maxPositions, newTokens);
    if (c.count) counts.push({ what, c });
  }
  return counts.map(({ what, c }) => ({
    field: 'data.overlong',
    reason: `${what} data: ${new OverlongError(c).reason}`,
  }));
}

/** The longest problem and target (completion, else answer) texts the task will generate for this run. */
export function longestTaskTexts(
  task: { name: string; difficulty: number; n_train: number; n_test: number },
  seed: number,
): { problem: number; target: number } {
  const t = getTask(task.name);
  const out = { problem: 0, target: 0 };
  for (const [split, n] of [
    ['train', task.n_train],
    ['test', task.n_test],
  ] as const)
    for (const e of t.generate({ split, n, seed, difficulty: task.difficulty, upTo: true })) {
      out.problem = Math.max(out.problem, e.problem.length);
      out.target = Math.max(out.target, (e.completion ?? e.answer).length);
    }
  return out;
}

/** A model's config.json (built-in configs are known) and whether it counts one token per character. */
export function modelConfigOf(model: {
  builtin?: string;
  path?: string;
}): { config: ModelConfig; charTokens: boolean } | undefined {
  if (model.builtin) {
    const config = BUILTIN_MODELS[model.builtin];
    return config ? { config, charTokens: true } : undefined;
  }
  if (!model.path || !existsSync(join(model.path, 'config.json'))) return undefined;
  try {
    return {
      config: JSON.parse(readFileSync(join(model.path, 'config.json'), 'utf8')) as ModelConfig,
      charTokens: !existsSync(join(model.path, 'tokenizer.json')),
    };
  } catch {
    return undefined;
  }
}
