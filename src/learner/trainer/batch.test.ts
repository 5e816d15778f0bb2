import { describe, expect, it } from 'vitest';
import { buildSequenceBatch } from './batch.js';

describe('buildSequenceBatch', () => {
  it('left-pads prompts, right-pads completions and masks exactly the completion targets', () => {
    const PAD = 0;
    const b = buildSequenceBatch([[5, 6], [7]], [[8, 9, 1], [2]], PAD);
    // full rows: [5 6 8 9 1] and [0 7 2 0 0]; inputs drop the last column, targets the first.
    expect(b.length).toBe(4);
    expect(b.promptWidth).toBe(2);
    expect(Array.from(b.inputIds)).toEqual([5, 6, 8, 9, 0, 7, 2, 0]);
    expect(Array.from(b.targetIds)).toEqual([6, 8, 9, 1, 7, 2, 0, 0]);
    expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 1, 0, 1, 1, 0]);
    expect(Array.from(b.completionMask)).toEqual([0, 1, 1, 1, 0, 1, 0, 0]);
    expect(b.completionTokens).toEqual([3, 1]);
  });
});
