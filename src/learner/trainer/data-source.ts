import { FieldError } from '../field-error.js';
import { getTask, type Task } from '../tasks/index.js';
import { verifyMath } from '../rewards/index.js';
import type { Example, TrainConfig } from './types.js';
import { type OverlongCount, PromptEncoder } from '../data/prompt.js';
import type { Policy } from './policy-source.js';

/** Scores one completion: reward in [0, 1] and whether it counts as correct (binary for every built-in verifier). */
export type Scorer = (completion: string, example: Example) => { reward: number; correct: boolean };

export interface TrainingData {
  train: Example[];
  test: Example[];
  /** (problem, completion) pairs for SFT (the problem is rendered by the run's prompt template when encoded). */
  sftPairs: { prompt: string; completion: string }[];
  reward: Scorer;
  /** Builds rollout prompts under data.overlong (set by withPromptPolicy). */
  prompts?: PromptEncoder;
  /** Training prompts over the context limit (counted by withPromptPolicy). */
  overlong?: OverlongCount;
}

export class DataSourceError extends FieldError {}

const exactScorer: Scorer = (completion, ex) => {
  const ok = completion.trim() === ex.answer.trim();
  return { reward: ok ? 1 : 0, correct: ok };
};

export const mathScorer: Scorer = (completion, ex) => {
  const ok = verifyMath(completion, ex.answer).correct;
  return { reward: ok ? 1 : 0, correct: ok };
};

/** A built-in task's own check (exact match, numbers compared numerically) as a scorer. */
export function taskScorer(task: Task): Scorer {
  return (completion, ex) => {
    const r = task.reward(completion, ex);
    return { reward: r, correct: r >= 0.5 };
  };
}

export function loadTrainingData(config: TrainConfig): TrainingData {
  const d = config.data;
  if (d.task) {
    const task = getTask(d.task.name);
    const gen = (split: 'train' | 'test', n: number) =>
      task.generate({ split, n, seed: config.seed, difficulty: d.task!.difficulty });
    const train = gen('train', d.task.n_train);
    const test = gen('test', d.task.n_test);
    const reward = d.reward === 'math' ? mathScorer : taskScorer(task);
    const sftPairs = train.map((e) => ({
      prompt: e.problem,
      completion: e.completion ?? task.solution(e.problem),
    }));
    return { train, test, sftPairs, reward };
  }
  const train = d.train ?? [];
  if (!train.length) throw new DataSourceError('data.train', 'no training examples');
  return {
    train,
    test: d.test ?? [],
    sftPairs: sftPairsOf(train),
    reward: d.reward === 'exact' ? exactScorer : mathScorer,
  };
}

/** Examples without a completion train SFT on `\boxed{answer}`, the form the math verifier reads. */
function sftPairsOf(examples: Example[]): { prompt: string; completion: string }[] {
  return examples.map((e) => ({ prompt: e.problem, completion: e.completion ?? `\\boxed{${e.answer}}` }));
}

/**
 * Applies data.overlong to the training prompts before a run starts: `error` refuses the run naming how many
 * prompts leave no room for max_new_tokens in the model's context, `skip` drops them, `truncate_left` keeps them
 * (rollouts then cut their first tokens).
 */
export function withPromptPolicy(data: TrainingData, config: TrainConfig, policy: Policy): TrainingData {
  const prompts = new PromptEncoder(
    policy.tokenizer,
    policy.model.dims.maxPositions,
    config.sampling.max_new_tokens,
    config.data.overlong,
    (e) => policy.prompt.render(e),
  );
  if (config.algorithm === 'sft') return { ...data, prompts };
  const { examples, overlong } = prompts.select(data.train);
  return { ...data, train: examples, prompts, overlong };
}
