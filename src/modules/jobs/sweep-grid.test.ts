import { describe, expect, it } from 'vitest';
import { expandGrid } from './sweep-grid.js';

const base = {
  kind: 'popo',
  model: { builtin: 'tiny-1m' },
  task: { name: 't', difficulty: 1, n_train: 1, n_test: 1 },
  popo: { tau: 0.99 },
};

describe('expandGrid', () => {
  it('produces the cartesian product in key order, merging into existing sections', () => {
    const { points, errors } = expandGrid(base, { 'popo.alpha': [0, 0.5], seed: [1, 2, 3] }, 100);
    expect(errors).toEqual([]);
    expect(points.map((p) => p.values)).toEqual([
      { 'popo.alpha': 0, seed: 1 },
      { 'popo.alpha': 0, seed: 2 },
      { 'popo.alpha': 0, seed: 3 },
      { 'popo.alpha': 0.5, seed: 1 },
      { 'popo.alpha': 0.5, seed: 2 },
      { 'popo.alpha': 0.5, seed: 3 },
    ]);
    expect(points[4].dto.popo).toMatchObject({ tau: 0.99, alpha: 0.5 });
    expect(points[4].dto.seed).toBe(2);
    // The base object is never mutated.
    expect(base.popo).toEqual({ tau: 0.99 });
  });

  it('rejects paths outside the hyperparameters, empty lists and oversized grids', () => {
    expect(expandGrid(base, { kind: ['grpo'] }, 10).errors[0]).toMatchObject({ field: 'grid.kind' });
    expect(expandGrid(base, { 'popo.alpha.x': [1] }, 10).errors[0]).toMatchObject({
      field: 'grid.popo.alpha.x',
    });
    expect(expandGrid(base, { seed: [] }, 10).errors[0]).toEqual({
      field: 'grid.seed',
      reason: 'must be a non-empty array of values',
    });
    expect(expandGrid(base, {}, 10).errors[0]).toMatchObject({ field: 'grid' });
    expect(expandGrid(base, { seed: [1, 2, 3], 'popo.alpha': [0, 1] }, 5).errors).toEqual([
      { field: 'grid', reason: 'expands to 6 jobs; the limit is 5' },
    ]);
  });

  it('validates each value in its own position', () => {
    const { errors } = expandGrid(base, { 'optimizer.lr': [0.1, -1, 'x'] }, 10);
    expect(errors).toEqual([
      { field: 'grid.optimizer.lr[1]', reason: '-1 must be a number > 0 and <= 10' },
      { field: 'grid.optimizer.lr[2]', reason: '"x" must be a number > 0 and <= 10' },
    ]);
  });
});
