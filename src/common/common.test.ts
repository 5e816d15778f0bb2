import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from './pagination.js';
import { stableStringify } from './stable-json.js';
import { describeRange, inRange } from './validators.js';

describe('Range', () => {
  it('describes and checks open, closed and integer bounds', () => {
    expect(describeRange({ gt: 0, lt: 1 })).toBe('must be a number > 0 and < 1');
    expect(describeRange({ int: true, gte: 2 })).toBe('must be an integer >= 2');
    expect(inRange(0, { gt: 0, lt: 1 })).toBe(false);
    expect(inRange(1, { gt: 0, lt: 1 })).toBe(false);
    expect(inRange(0.5, { gt: 0, lt: 1 })).toBe(true);
    expect(inRange(2.5, { int: true, gte: 2 })).toBe(false);
    expect(inRange('3', { gte: 0 })).toBe(false);
    expect(inRange(Number.NaN, {})).toBe(false);
    expect(inRange(Infinity, { gte: 0 })).toBe(false);
  });
});

describe('cursor', () => {
  it('round-trips a microsecond timestamp and rejects anything else', () => {
    const pos = { ts: '2026-01-02T03:04:05.123456Z', id: '0f8fad5b-d9cb-469f-a165-70867728950e' };
    expect(decodeCursor(encodeCursor(pos))).toEqual(pos);
    expect(() => decodeCursor('not-base64-json')).toThrow(/cursor/);
    expect(() => decodeCursor(Buffer.from('{"ts":"x","id":"y"}').toString('base64url'))).toThrow(/cursor/);
  });
});

describe('stableStringify', () => {
  it('ignores key order and undefined members at any depth', () => {
    expect(stableStringify({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } })).toBe(
      stableStringify({ a: { d: [1, { x: 1, y: 2 }] }, b: 1 }),
    );
    expect(stableStringify({ a: [1, 2] })).not.toBe(stableStringify({ a: [2, 1] }));
  });
});
