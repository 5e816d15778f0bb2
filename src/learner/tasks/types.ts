import { FieldError } from '../field-error.js';
import type { Example } from '../trainer/types.js';

export type { Example };

export type Split = 'train' | 'test';

export interface GenerateOptions {
  split: Split;
  /** How many distinct problems to return. */
  n: number;
  /** The same seed gives the same problems in the same order. */
  seed: number;
  /** 1 (easiest) .. task.maxDifficulty. */
  difficulty: number;
  /** Return every distinct problem there is when the split holds fewer than n, instead of failing. */
  upTo?: boolean;
}

/** A built-in generator of verifiable problems whose gold answers are plain integers. */
export interface Task {
  readonly name: string;
  readonly description: string;
  readonly maxDifficulty: number;
  /** One prompt and answer, e.g. `{ problem: '12+34=', answer: '46' }`. */
  readonly example: { problem: string; answer: string };
  generate(options: GenerateOptions): Example[];
  /**
   * How many distinct problems `generate` finds for this split, difficulty and seed, counting up to `atMost`: a
   * run asking for more would fail, so the run spec refuses it at creation.
   */
  capacity(split: Split, difficulty: number, atMost: number, seed?: number): number;
  /** The SFT target completion for a problem of this task (the answer; the trainer appends EOS). */
  solution(problem: string): string;
  /** 1 when the completion is the answer (after trimming; numbers compared numerically), else 0. */
  reward(completion: string, example: Pick<Example, 'answer'>): number;
}

export interface TaskInfo {
  name: string;
  description: string;
  maxDifficulty: number;
  example: { problem: string; answer: string };
}

export class TaskError extends FieldError {}
