import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../learner/trainer/config.js';
import { examplesFromRows, trainConfigFor } from './job-config.js';

const base = {
  kind: 'popo' as const,
  model_builtin: 'tiny-1m',
  model_id: null,
  task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 },
};

describe('trainConfigFor', () => {
  it('fills the trainer defaults around the submitted hyperparameters and the job’s columns', () => {
    const c = trainConfigFor({ ...base, config: { steps: 7, popo: { alpha: 0.5 }, reward: 'math' } }, {});
    expect(c).toMatchObject({
      algorithm: 'popo',
      steps: 7,
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add' }, reward: 'math' },
    });
    expect(c.popo).toMatchObject({ alpha: 0.5, beta: 0.01, tau: 0.995 });
  });

  it('reads the run document as stored (model and data by reference), swapping the references', () => {
    const examples = { train: [{ id: '1', problem: '1+1=', answer: '2' }], test: [] };
    const config = {
      algorithm: 'popo',
      steps: 3,
      model: { id: 'm' },
      data: { dataset_id: 'd', reward: 'exact', overlong: 'skip' },
      popo: { positive_threshold: 0.9 },
    };
    const c = trainConfigFor(
      { ...base, model_builtin: null, model_id: 'm', task: null, config },
      { modelPath: '/models/x', examples },
    );
    expect(c.model).toEqual({ path: '/models/x' });
    expect(c.data).toMatchObject({ train: examples.train, reward: 'exact', overlong: 'skip' });
    expect(c.data).not.toHaveProperty('dataset_id');
    expect(c.popo.positive_threshold).toBe(0.9);
  });

  it('uses a registered model’s directory and a dataset’s examples', () => {
    const examples = { train: [{ id: '1', problem: '1+1=', answer: '2' }], test: [] };
    const c = trainConfigFor(
      { ...base, kind: 'sft', model_builtin: null, model_id: 'm', task: null, config: {} },
      { modelPath: '/models/x', examples },
    );
    expect(c.model).toEqual({ path: '/models/x' });
    expect(c.data.train).toEqual(examples.train);
    expect(c.data.task).toBeUndefined();
    expect(c.algorithm).toBe('sft');
  });

  it('raises the trainer’s ConfigError naming the field', () => {
    expect(() => trainConfigFor({ ...base, config: { popo: { tau: 1.5 } } }, {})).toThrow(ConfigError);
    expect(() => trainConfigFor({ ...base, config: { popo: { tau: 1.5 } } }, {})).toThrow(/popo\.tau/);
    expect(() => trainConfigFor({ ...base, config: { lr: 1 } }, {})).toThrow(/lr is not a known field/);
  });

  it('refuses a job whose registered model is gone', () => {
    expect(() => trainConfigFor({ ...base, model_builtin: null, model_id: 'gone', config: {} }, {})).toThrow(
      /model gone is missing/,
    );
  });
});

describe('examplesFromRows', () => {
  it('splits on extra.split = "test", keeps ids (numbers too) and completions; ids default to the 1-based row', () => {
    const rows = [
      { idx: 0, problem: 'a', answer: '1', extra: null },
      { idx: 1, problem: 'b', answer: '2', extra: { id: 'x7', completion: 'so 2' } },
      { idx: 2, problem: 'c', answer: '3', extra: { split: 'test' } },
      { idx: 3, problem: 'd', answer: '4', extra: { id: 12 } },
    ];
    expect(examplesFromRows(rows)).toEqual({
      train: [
        { id: '1', problem: 'a', answer: '1' },
        { id: 'x7', problem: 'b', answer: '2', completion: 'so 2' },
        { id: '12', problem: 'd', answer: '4' },
      ],
      test: [{ id: '3', problem: 'c', answer: '3' }],
    });
  });
});
