import { defineTask, intIn, parseOrThrow } from './define-task.js';

/** String length range and letters used, per difficulty. */
const COUNT_LEVELS: Record<number, { len: [number, number]; letters: string }> = {
  1: { len: [4, 6], letters: 'abc' },
  2: { len: [6, 10], letters: 'abcd' },
  3: { len: [10, 16], letters: 'abcde' },
  4: { len: [16, 24], letters: 'abcdef' },
};

/** How many times a letter occurs in a word: prompt "count(a,abcab)=", answer "2". */
export const countTask = defineTask({
  name: 'count',
  description:
    'Occurrences of a letter in a random word; longer words over more letters with difficulty 1..4. ' +
    'Prompt "count(a,abcab)=", answer "2".',
  maxDifficulty: 4,
  sample(rng, d) {
    const { len, letters } = COUNT_LEVELS[d];
    const n = intIn(rng, len[0], len[1]);
    let word = '';
    for (let i = 0; i < n; i++) word += letters[rng.int(letters.length)];
    const target = letters[rng.int(letters.length)];
    return {
      problem: `count(${target},${word})=`,
      answer: String([...word].filter((c) => c === target).length),
    };
  },
  solve(problem) {
    const m = parseOrThrow('count', /^count\(([a-z]),([a-z]+)\)=$/, problem);
    return String([...m[2]].filter((c) => c === m[1]).length);
  },
});
