import { FieldError } from '../field-error.js';
import { getTask, type Task } from '../tasks/index.js';
import { verifyMath } from '../rewards/index.js';
import type { Example, TrainConfig } from './types.js';
import { type OverlongCount, PromptEncoder } from '../data/prompt.js';
import type { Policy } from './policy-source.js';
import type { OutboundPolicy } from '../../common/ssrf-guard.js';
import { RewardScorer, type SampleScore } from '../rewards/reward-scorer.js';

/** One completion's score: reward in [0, 1], whether it counts as correct, and per-component scores (rewards). */
export interface Score {
  reward: number;
  correct: boolean;
  /** With `rewards`: each component's score by its name (the step metrics rewards/<name>). */
  components?: Record<string, number>;
}

/**
 * Scores one completion. Synchronous for the built-in verifiers (the fast path of every step); a promise when a
 * run's `rewards` include an HTTP grader.
 */
export type Scorer = (completion: string, example: Example) => Score | Promise<Score>;

/** Scores completions in order, concurrently when the scorer is asynchronous. */
export async function scoreAll(
  score: Scorer,
  items: { completion: string; example: Example }[],
): Promise<Score[]> {
  return Promise.all(items.map((i) => score(i.completion, i.example)));
}

export interface TrainingData {
  train: Example[];
  test: Example[];
  /** (problem, completion) pairs for SFT (the problem is rendered by the run's prompt template when encoded). */
  sftPairs: { prompt: string; completion: string }[];
  reward: Scorer;
  /** The names of the run's reward components (`rewards`), in order; absent for a single verifier. */
  rewardComponents?: string[];
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

/**
 * A run's `rewards` as a scorer: the weighted mean of the components (the reward library), positive — `correct` —
 * at or above popo.positive_threshold, so the POPO positive set, pass_rate and the eval all agree.
 */
export function rewardsScorer(
  rewards: NonNullable<TrainConfig['rewards']>,
  threshold: number,
  outbound?: OutboundPolicy,
): { score: Scorer; names: string[] } {
  const scorer = new RewardScorer({ rewards, positive_threshold: threshold }, outbound);
  const toScore = (s: SampleScore): Score => ({
    reward: s.score,
    correct: s.positive,
    components: Object.fromEntries(s.components.map((c) => [c.name, c.score])),
  });
  const score: Scorer = (completion, ex) => {
    const r = scorer.scoreNow({ prompt: ex.problem, completion, answer: ex.answer });
    return r instanceof Promise ? r.then(toScore) : toScore(r);
  };
  return { score, names: scorer.componentNames };
}

export function loadTrainingData(config: TrainConfig, outbound?: OutboundPolicy): TrainingData {
  const data = loadExamples(config);
  if (!config.rewards) return data;
  const { score, names } = rewardsScorer(config.rewards, config.popo.positive_threshold, outbound);
  return { ...data, reward: score, rewardComponents: names };
}

function loadExamples(config: TrainConfig): TrainingData {
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
