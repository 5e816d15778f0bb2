import { afterAll, describe, expect, it } from 'vitest';
import { exactMatchReward, makeMathReward, mathReward } from './reward-fns.js';
import { stopSymbolicWorker } from './symbolic.js';

afterAll(() => stopSymbolicWorker());

describe('mathReward', () => {
  it('gives 1 for an equivalent boxed answer and 0 otherwise, with the reason', () => {
    expect(mathReward('so $\\boxed{\\frac{1}{2}}$', { answer: '0.5' })).toMatchObject({
      reward: 1,
      correct: true,
      extracted: '\\frac{1}{2}',
    });
    expect(mathReward('so $\\boxed{3}$', { answer: '4' })).toMatchObject({
      reward: 0,
      correct: false,
      reason: 'not equivalent',
    });
  });

  it('accepts any of example.answers and passes options through makeMathReward', () => {
    expect(mathReward('\\boxed{9.6}', { answer: '9.5', answers: ['9.6'] }).reward).toBe(1);
    const loose = makeMathReward({ lastNumberFallback: true });
    expect(loose('the result is 12', { answer: '12' }).reward).toBe(1);
    expect(mathReward('the result is 12', { answer: '12' }).reward).toBe(0);
  });

  it('returns reward 0 rather than throwing on a malformed example', () => {
    expect(mathReward('\\boxed{1}', undefined as never)).toMatchObject({ reward: 0, correct: false });
  });
});

describe('exactMatchReward', () => {
  it('matches the whole completion or its boxed answer exactly, whitespace collapsed', () => {
    expect(exactMatchReward(' 42\n', { answer: '42' })).toMatchObject({ reward: 1, extracted: '42' });
    expect(exactMatchReward('\\boxed{4 2}', { answer: '4  2' }).reward).toBe(1);
    expect(exactMatchReward('42.0', { answer: '42' }).reward).toBe(0);
    expect(exactMatchReward('', { answer: '42' })).toMatchObject({ reward: 0, reason: 'empty completion' });
  });
});
