import { describe, expect, it } from 'vitest';
import { extractAnswer, extractAnswerWithSource, extractBoxed } from './extract.js';

describe('extractBoxed', () => {
  it('matches nested braces and takes the last box', () => {
    expect(extractBoxed('first \\boxed{1} then \\boxed{\\frac{1}{\\sqrt{2}}} done')).toBe(
      '\\frac{1}{\\sqrt{2}}',
    );
    expect(extractBoxed('$\\boxed{\\{1,2\\}}$')).toBe('\\{1,2\\}');
  });

  it('reads \\fbox{} and the unbraced \\boxed 5 form', () => {
    expect(extractBoxed('so \\fbox{42}.')).toBe('42');
    expect(extractBoxed('hence $\\boxed 5$.')).toBe('5');
  });

  it('returns undefined for unbalanced or absent boxes and ignores look-alike macros', () => {
    expect(extractBoxed('\\boxed{1 + (')).toBeUndefined();
    expect(extractBoxed('no box here')).toBeUndefined();
    expect(extractBoxed('\\boxedtext{3}')).toBeUndefined();
  });
});

describe('extractAnswer', () => {
  it('prefers a box over a final-answer phrase', () => {
    expect(extractAnswerWithSource('The answer is 3. Check: \\boxed{4}')).toEqual({
      answer: '4',
      source: 'boxed',
    });
  });

  it('reads "The answer is", "Final Answer:", "Answer:" and "####" forms, the last one winning', () => {
    expect(extractAnswer('We get x. The answer is $\\frac{3}{4}$.')).toBe('\\frac{3}{4}');
    expect(extractAnswer('**Final Answer:** $\\$18.90$')).toBe('\\$18.90');
    expect(extractAnswer('Answer: 12 apples')).toBe('12');
    expect(extractAnswer('blah\n#### 1,000')).toBe('1000');
    expect(extractAnswer('The answer is 5. Wait, no. The final answer is 7.')).toBe('7');
  });

  it('cuts prose after the answer sentence', () => {
    expect(extractAnswer('The answer is 5. This is because 2+3=5.')).toBe('5');
    expect(extractAnswer('The answer is 5.5.')).toBe('5.5');
  });

  it('falls back to the last number or the whole text only when asked', () => {
    const text = 'I think 12 then 15 is right';
    expect(extractAnswer(text)).toBeUndefined();
    expect(extractAnswerWithSource(text, { lastNumberFallback: true })).toEqual({
      answer: '15',
      source: 'last-number',
    });
    expect(extractAnswerWithSource(' 42 ', { wholeFallback: true })).toEqual({
      answer: '42',
      source: 'whole',
    });
  });

  it('lets a later final-answer phrase beat an earlier box (Math-Verify priorities)', () => {
    const text =
      'so the error is $\\boxed{255}$. Final Answer: The final answer is $10,455$. I hope it is correct.';
    expect(extractAnswer(text)).toBe('10,455');
    expect(extractAnswer('Final Answer: The final answer is $100$. I hope it is correct.')).toBe('100');
    expect(extractAnswer('Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.')).toBe('120');
    expect(extractAnswer('Final Answer: The final answer is 12,000,023. I hope it is correct.')).toBe(
      '12000023',
    );
  });

  it('joins several boxed answers into one list', () => {
    expect(extractAnswer('The integers are \\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]')).toBe(
      '-2, 1',
    );
    expect(extractAnswer('\\boxed{1},\\boxed{2},\\boxed{3}')).toBe('1, 2, 3');
    expect(extractAnswer('\\boxed{1} no no no no no \\boxed{2}')).toBe('2');
  });

  it('reads unmarked text only in math_verify mode', () => {
    const text = 'so the number is 10 which is 1,000.99m²';
    expect(extractAnswer(text)).toBeUndefined();
    expect(extractAnswerWithSource(text, { mode: 'math_verify' })).toEqual({
      answer: '1000.99',
      source: 'free-text',
    });
    expect(extractAnswer('Soucis : 2,74 $ a..', { mode: 'math_verify' })).toBe('2.74');
    expect(extractAnswer('We find that $x \\lt 3$.', { mode: 'math_verify' })).toBe('x \\lt 3');
  });

  it('returns undefined for non-strings instead of throwing', () => {
    expect(extractAnswer(undefined as unknown as string)).toBeUndefined();
  });
});
