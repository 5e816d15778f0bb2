import { describe, expect, it } from 'vitest';

import { CHAR_ALPHABET } from '../tokenizer/char-tokenizer.js';
import { exactMatch, getTask, listTasks, splitOf, TaskError, TEST_FRACTION } from './index.js';

const NAMES = ['add', 'mul', 'linear', 'count', 'reverse'];
const ALPHABET = new Set<string>(CHAR_ALPHABET);

describe('built-in tasks', () => {
  it('lists every task with a working example', () => {
    const infos = listTasks();
    expect(infos.map((t) => t.name)).toEqual(NAMES);
    for (const info of infos) {
      expect(info.maxDifficulty).toBeGreaterThanOrEqual(1);
      expect(getTask(info.name).solution(info.example.problem)).toBe(info.example.answer);
    }
  });

  it('rejects unknown tasks and bad options, naming the field', () => {
    expect(() => getTask('division')).toThrow(/unknown task 'division'.*add, mul, linear, count/);
    const add = getTask('add');
    const ok = { split: 'train', n: 5, seed: 1, difficulty: 1 } as const;
    expect(() => add.generate({ ...ok, difficulty: 5 })).toThrow(/difficulty: .*1\.\.4/);
    expect(() => add.generate({ ...ok, difficulty: 1.5 })).toThrow(/difficulty/);
    expect(() => add.generate({ ...ok, n: 0 })).toThrow(/^n:/);
    expect(() => add.generate({ ...ok, seed: Number.NaN })).toThrow(/seed/);
    expect(() => add.generate({ ...ok, split: 'dev' as 'train' })).toThrow(/split/);
    expect(() => add.solution('1*2=')).toThrow(TaskError);
    // 1-digit sums: 100 problems in all, about 20 of them in test.
    expect(() => add.generate({ split: 'test', n: 60, seed: 1, difficulty: 1 })).toThrow(
      /only \d+ distinct test problems/,
    );
  });

  for (const name of NAMES) {
    describe(name, () => {
      const task = getTask(name);

      it('is deterministic for a seed and varies with it', () => {
        for (let d = 1; d <= task.maxDifficulty; d++) {
          const a = task.generate({ split: 'train', n: 15, seed: 7, difficulty: d });
          const b = task.generate({ split: 'train', n: 15, seed: 7, difficulty: d });
          const c = task.generate({ split: 'train', n: 15, seed: 8, difficulty: d });
          expect(b).toEqual(a);
          expect(c.map((e) => e.problem)).not.toEqual(a.map((e) => e.problem));
        }
      });

      it('keeps train and test disjoint across seeds, and problems unique', () => {
        for (let d = 1; d <= task.maxDifficulty; d++) {
          const n = d === 1 ? 15 : 60;
          const train = [1, 2, 3].flatMap((seed) =>
            task.generate({ split: 'train', n, seed, difficulty: d }),
          );
          const test = [1, 2, 3].flatMap((seed) =>
            task.generate({ split: 'test', n: 10, seed, difficulty: d }),
          );
          const trainSet = new Set(train.map((e) => e.problem));
          expect(test.filter((e) => trainSet.has(e.problem))).toEqual([]);
          expect(train.every((e) => splitOf(e.problem) === 'train')).toBe(true);
          expect(test.every((e) => splitOf(e.problem) === 'test')).toBe(true);
          const one = task.generate({ split: 'train', n, seed: 4, difficulty: d });
          expect(new Set(one.map((e) => e.problem)).size).toBe(n);
          expect(new Set(one.map((e) => e.id)).size).toBe(n);
        }
      });

      it('solutions verify, answers are integers, prompts fit the char tokenizer', () => {
        for (let d = 1; d <= task.maxDifficulty; d++) {
          for (const split of ['train', 'test'] as const) {
            for (const e of task.generate({ split, n: 12, seed: 3, difficulty: d })) {
              expect(e.answer).toMatch(/^-?\d+$/);
              expect(task.solution(e.problem)).toBe(e.answer);
              expect(e.completion).toBe(e.answer);
              expect(task.reward(` ${e.completion} `, e)).toBe(1);
              expect(task.reward(String(Number(e.answer) + 1), e)).toBe(0);
              expect(task.reward('', e)).toBe(0);
              const outside = [...(e.problem + e.answer)].filter((ch) => !ALPHABET.has(ch));
              expect(outside, e.problem).toEqual([]);
              expect(e.problem.length).toBeLessThanOrEqual(40);
            }
          }
        }
      });
    });
  }

  it('reverse writes the digits backwards, with lengths by difficulty and no leading zero', () => {
    const task = getTask('reverse');
    expect(task.solution('rev(4821)=')).toBe('1284');
    expect(task.solution('rev(120)=')).toBe('021');
    expect(() => task.solution('rev(12a)=')).toThrow(TaskError);
    const lengths: Record<number, [number, number]> = { 1: [3, 4], 2: [5, 6], 3: [7, 8], 4: [9, 10] };
    for (let d = 1; d <= 4; d++) {
      const seen = new Set<number>();
      for (const e of task.generate({ split: 'train', n: 200, seed: 5, difficulty: d })) {
        const digits = /^rev\((\d+)\)=$/.exec(e.problem)![1];
        seen.add(digits.length);
        expect(e.answer).toBe([...digits].reverse().join(''));
        expect(e.answer[0]).not.toBe('0');
      }
      expect([...seen].sort((a, b) => a - b)).toEqual(lengths[d]);
    }
  });

  it('the split hash sends roughly TEST_FRACTION of problems to test', () => {
    const all = Array.from({ length: 2000 }, (_, i) => `${i}+${i * 7}=`);
    const share = all.filter((p) => splitOf(p) === 'test').length / all.length;
    expect(Math.abs(share - TEST_FRACTION)).toBeLessThan(0.03);
  });

  it('exact match compares numbers by value and text exactly', () => {
    expect(exactMatch('046', '46')).toBe(1);
    expect(exactMatch('+7', '7')).toBe(1);
    expect(exactMatch('-3', '3')).toBe(0);
    expect(exactMatch('46.0', '46')).toBe(1);
    expect(exactMatch('4 6', '46')).toBe(0);
    expect(exactMatch('abc', ' abc')).toBe(1);
  });
});
