import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_MODELS, type ModelConfig } from '../model/config.js';
import { getTask } from '../tasks/index.js';
import type { ConfigIssue } from './config.js';

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
  run: { sampling: { max_new_tokens: number }; data: { overlong: string } },
  model: ModelContext,
  longestProblemChars: number,
): ConfigIssue[] {
  const newTokens = run.sampling.max_new_tokens;
  const prompt = model.charTokens && run.data.overlong === 'error' ? longestProblemChars + 1 : 1;
  if (prompt + newTokens <= model.maxPositions) return [];
  const what =
    prompt > 1
      ? `the longest prompt (${prompt} tokens) + max_new_tokens (${newTokens})`
      : `max_new_tokens (${newTokens}) + 1`;
  return [
    {
      field: 'sampling.max_new_tokens',
      reason: `${what} exceeds the model's max_position_embeddings (${model.maxPositions})${
        prompt > 1 ? '; lower it, shorten the problems or set data.overlong to skip or truncate_left' : ''
      }`,
    },
  ];
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
