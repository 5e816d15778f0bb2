import { FieldError } from '../field-error.js';
import { getTask, type Task } from '../tasks/index.js';
import { verifyMath } from '../rewards/index.js';
import type { Example, TrainConfig } from './types.js';

/** Scores one completion: reward in [0, 1] and whether it counts as correct (binary for every built-in verifier). */
export type Scorer = (completion: string, example: Example) => { reward: number; correct: boolean };

export interface TrainingData {
  train: Example[];
  test: Example[];
  /** (problem, completion) pairs for SFT (the problem is rendered by the run's prompt template when encoded). */
  sftPairs: { prompt: string; completion: string }[];
  reward: Scorer;
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
