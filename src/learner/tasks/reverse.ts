import { defineTask, intIn, parseOrThrow } from './define-task.js';

/** Digit-string lengths per difficulty. */
const REVERSE_LENGTHS: Record<number, [number, number]> = { 1: [3, 4], 2: [5, 6], 3: [7, 8], 4: [9, 10] };

/**
 * Write a number's digits in reverse order: prompt "rev(48213)=", answer "31284".
 * Each answer digit is a copy of one prompt digit, a structure a tiny transformer learns in a few hundred SFT
 * steps (unlike carries in addition), so a short SFT gives a base that is right often but not reliably: the
 * regime where RL from verifiable rewards has signal to work with. The last digit is never 0, so the answer
 * has no leading zero and compares as a plain integer.
 */
export const reverseTask = defineTask({
  name: 'reverse',
  description:
    'Reverse the digits of a number; 3-4, 5-6, 7-8, 9-10 digits at difficulty 1..4. Prompt "rev(4821)=", answer "1284".',
  maxDifficulty: 4,
  sample(rng, d) {
    const [lo, hi] = REVERSE_LENGTHS[d];
    const n = intIn(rng, lo, hi);
    let digits = '';
    for (let i = 0; i < n - 1; i++) digits += String(rng.int(10));
    digits += String(intIn(rng, 1, 9));
    return { problem: `rev(${digits})=`, answer: [...digits].reverse().join('') };
  },
  solve(problem) {
    const m = parseOrThrow('reverse', /^rev\((\d+)\)=$/, problem);
    return [...m[1]].reverse().join('');
  },
});
