import { describe, expect, it } from 'vitest';
import {
  buildProcessors,
  logSoftmaxAt,
  softmax,
  TemperatureProcessor,
  TopKProcessor,
  TopPProcessor,
} from './processors.js';

const logitsOf = (probs: number[]) => Float32Array.from(probs.map(Math.log));
const kept = (row: Float32Array) => Array.from(row.keys()).filter((i) => row[i] !== -Infinity);

describe('logits processors', () => {
  it('top-p keeps exactly the nucleus of a hand-made distribution', () => {
    // sorted: 0.40 (i=2), 0.30 (i=0), 0.20 (i=3), 0.06 (i=1), 0.04 (i=4)
    const probs = [0.3, 0.06, 0.4, 0.2, 0.04];
    const check = (p: number, expected: number[]) => {
      const row = logitsOf(probs);
      new TopPProcessor(p).process(row);
      expect(kept(row).sort()).toEqual(expected);
    };
    check(0.35, [2]);
    check(0.5, [0, 2]); // 0.4 < 0.5, so 0.3 is needed too
    check(0.75, [0, 2, 3]);
    check(0.92, [0, 1, 2, 3]);
    check(0.97, [0, 1, 2, 3, 4]);
    check(1, [0, 1, 2, 3, 4]);
    const row = logitsOf(probs);
    new TopPProcessor(0.1, 2).process(row);
    expect(kept(row).sort()).toEqual([0, 2]); // minTokensToKeep
  });

  it('top-k keeps the k largest and ties with the k-th', () => {
    const row = Float32Array.from([0.1, 3, -2, 2, 2, 5]);
    new TopKProcessor(3).process(row);
    expect(kept(row)).toEqual([1, 3, 4, 5]);
    const row2 = Float32Array.from([0.1, 3, -2, 2, 1, 5]);
    new TopKProcessor(2).process(row2);
    expect(kept(row2)).toEqual([1, 5]);
    expect(Array.from(row2.filter((v) => v !== -Infinity))).toEqual([3, 5]);
  });

  it('temperature divides the logits', () => {
    const row = Float32Array.from([1, -2, 4]);
    new TemperatureProcessor(0.5).process(row);
    expect(Array.from(row)).toEqual([2, -4, 8]);
  });

  it('builds the chain in order, skipping identity steps', () => {
    expect(buildProcessors({}).map((p) => p.name)).toEqual([]);
    expect(buildProcessors({ temperature: 1, topK: 0, topP: 1 })).toEqual([]);
    expect(buildProcessors({ temperature: 0.7, topK: 5, topP: 0.9 }).map((p) => p.name)).toEqual([
      'temperature',
      'top_k',
      'top_p',
    ]);
  });

  it('rejects invalid settings naming the parameter', () => {
    expect(() => new TemperatureProcessor(-1)).toThrow(/temperature: must be a positive number/);
    expect(() => new TopKProcessor(1.5)).toThrow(/top_k: must be a positive integer/);
    expect(() => new TopPProcessor(0)).toThrow(/top_p: must be in \(0, 1\]/);
  });

  it('softmax and logSoftmaxAt agree and ignore removed tokens', () => {
    const row = Float32Array.from([Math.log(0.2), -Infinity, Math.log(0.8)]);
    const p = softmax(row);
    expect(p[0]).toBeCloseTo(0.2, 6);
    expect(p[1]).toBe(0);
    expect(logSoftmaxAt(row, 2)).toBeCloseTo(Math.log(0.8), 6);
    expect(() => softmax(Float32Array.from([-Infinity, -Infinity]))).toThrow(/every logit is -Infinity/);
  });
});
