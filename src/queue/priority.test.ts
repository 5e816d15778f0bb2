import { describe, expect, it } from 'vitest';
import { MAX_BULL_PRIORITY, toBullPriority } from './priority.js';

describe('toBullPriority', () => {
  it('keeps the order (lower first) inside BullMQ’s 1..2^21-1 range', () => {
    expect(toBullPriority(0)).toBe(1);
    expect(toBullPriority(5)).toBe(6);
    expect(toBullPriority(-3)).toBe(1);
    expect(toBullPriority(1e9)).toBe(MAX_BULL_PRIORITY);
    expect(toBullPriority(2) < toBullPriority(3)).toBe(true);
  });

  it('refuses a non-number', () => {
    expect(() => toBullPriority(Number.NaN)).toThrow(/priority must be a finite number/);
  });
});
