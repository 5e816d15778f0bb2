import { createHash } from 'node:crypto';

import { Rng } from '../util/random.js';
import { TaskError, type Example, type GenerateOptions, type Split, type Task } from './types.js';

/** Share of the problem space that belongs to the test split. */
export const TEST_FRACTION = 0.2;

export interface TaskSpec {
  name: string;
  description: string;
  maxDifficulty: number;
  /** Draw one problem at a difficulty; `answer` is computed from the drawn values, not from the text. */
  sample(rng: Rng, difficulty: number): { problem: string; answer: string };
  /** Parse a problem of this task and compute its answer; throws on text the task did not generate. */
  solve(problem: string): string;
}

function digest(problem: string): string {
  return createHash('sha256').update(problem).digest('hex');
}

/**
 * A problem's split is a function of its text alone, so train and test are disjoint for every seed, difficulty and
 * n, and a problem never changes sides between runs.
 */
export function splitOf(problem: string): Split {
  const bucket = parseInt(digest(problem).slice(0, 8), 16) / 2 ** 32;
  return bucket < TEST_FRACTION ? 'test' : 'train';
}

const NUMBER = /^[+-]?\d+(\.\d+)?$/;

/** Exact match after trimming; two numbers compare by value, so "046" and "+46" match "46". */
export function exactMatch(completion: string, answer: string): number {
  const c = completion.trim();
  const a = answer.trim();
  if (NUMBER.test(c) && NUMBER.test(a)) return Number(c) === Number(a) ? 1 : 0;
  return c === a ? 1 : 0;
}

function checkOptions(spec: TaskSpec, o: GenerateOptions): void {
  if (o == null || typeof o !== 'object')
    throw new TaskError('options', 'expected { split, n, seed, difficulty }');
  if (o.split !== 'train' && o.split !== 'test') {
    throw new TaskError('split', `must be 'train' or 'test', got ${String(o.split)}`);
  }
  if (!Number.isInteger(o.n) || o.n < 1 || o.n > 1_000_000) {
    throw new TaskError('n', `must be an integer between 1 and 1000000, got ${o.n}`);
  }
  if (!Number.isInteger(o.seed)) throw new TaskError('seed', `must be an integer, got ${o.seed}`);
  if (!Number.isInteger(o.difficulty) || o.difficulty < 1 || o.difficulty > spec.maxDifficulty) {
    throw new TaskError(
      'difficulty',
      `task '${spec.name}' has difficulties 1..${spec.maxDifficulty}, got ${o.difficulty}`,
    );
  }
}

export function defineTask(spec: TaskSpec): Task {
  const exampleRng = new Rng(0);
  const capacities = new Map<string, number>();
  const task: Task = {
    name: spec.name,
    description: spec.description,
    maxDifficulty: spec.maxDifficulty,
    example: spec.sample(exampleRng, 1),
    generate(options: GenerateOptions): Example[] {
      checkOptions(spec, options);
      const { split, n, seed, difficulty } = options;
      const rng = new Rng(seed);
      const seen = new Set<string>();
      const out: Example[] = [];
      // Small spaces (1-digit sums) run out: cap the draws instead of looping forever, then say so.
      const maxDraws = 200 * n + 20_000;
      for (let draws = 0; out.length < n && draws < maxDraws; draws++) {
        const { problem, answer } = spec.sample(rng, difficulty);
        if (seen.has(problem)) continue;
        seen.add(problem);
        if (splitOf(problem) !== split) continue;
        out.push({
          id: `${spec.name}-d${difficulty}-${digest(problem).slice(0, 12)}`,
          problem,
          answer,
          completion: spec.solve(problem),
        });
      }
      if (out.length < n && !options.upTo) {
        throw new TaskError(
          'n',
          `task '${spec.name}' at difficulty ${difficulty} has only ${out.length} distinct ${split} problems ` +
            `(found in ${maxDraws} draws); ask for fewer or raise the difficulty`,
        );
      }
      return out;
    },
    capacity(split: Split, difficulty: number, atMost: number, seed = 0): number {
      const key = `${split}/${difficulty}/${atMost}/${seed}`;
      let have = capacities.get(key);
      if (have === undefined) {
        // The generator itself is the measure (small spaces run out, large ones exceed any n asked for).
        have = task.generate({ split, n: atMost, seed, difficulty, upTo: true }).length;
        if (capacities.size > 1000) capacities.clear();
        capacities.set(key, have);
      }
      return have;
    },
    solution: (problem: string) => spec.solve(problem),
    reward: (completion: string, example: Pick<Example, 'answer'>) => exactMatch(completion, example.answer),
  };
  return task;
}

/** Uniform integer in [lo, hi]. */
export function intIn(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** An integer with exactly `digits` digits (0..9 for one digit). */
export function withDigits(rng: Rng, digits: number): number {
  return digits === 1 ? intIn(rng, 0, 9) : intIn(rng, 10 ** (digits - 1), 10 ** digits - 1);
}

export function parseOrThrow(task: string, pattern: RegExp, problem: string): RegExpExecArray {
  const m = pattern.exec(problem);
  if (!m) throw new TaskError('problem', `'${problem}' is not a ${task} problem`);
  return m;
}
