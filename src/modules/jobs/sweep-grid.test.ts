import { describe, expect, it } from 'vitest';
import { expandGrid } from './sweep-grid.js';

const base = {
  algorithm: 'popo',
  model: { builtin: 'tiny-1m' },
  data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 } },
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
    expect(points[4].body.popo).toMatchObject({ tau: 0.99, alpha: 0.5 });
    expect(points[4].body.seed).toBe(2);
    // The base object is never mutated.
    expect(base.popo).toEqual({ tau: 0.99 });
  });

  it('rejects paths outside the hyperparameters, empty lists and oversized grids', () => {
    expect(expandGrid(base, { 'model.builtin': ['tiny-10m'] }, 10).errors[0]).toMatchObject({
      field: 'grid.model.builtin',
    });
    expect(expandGrid(base, { 'data.dataset_id': ['x'] }, 10).errors[0]).toMatchObject({
      field: 'grid.data.dataset_id',
    });
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

  it('addresses the same field paths as the run document, data.task and algorithm included', () => {
    const { points, errors } = expandGrid(
      base,
      { 'data.task.n_train': [5, 10], algorithm: ['popo', 'grpo'] },
      10,
    );
    expect(errors).toEqual([]);
    expect(points[3].body).toMatchObject({ algorithm: 'grpo', data: { task: { name: 'add', n_train: 10 } } });
    expect(expandGrid(base, { 'data.task.n_train': [500] }, 10).errors[0]).toMatchObject({
      field: 'grid.data.task.n_train[0]',
      reason: expect.stringMatching(/^500 must be <= 80/),
    });
  });

  it('validates each value in its own position', () => {
    const { errors } = expandGrid(base, { 'optimizer.lr': [0.1, -1, 'x'] }, 10);
    expect(errors).toEqual([
      { field: 'grid.optimizer.lr[1]', reason: '-1 must be a number > 0 and <= 10' },
      { field: 'grid.optimizer.lr[2]', reason: '"x" must be a number > 0 and <= 10' },
    ]);
  });
});
