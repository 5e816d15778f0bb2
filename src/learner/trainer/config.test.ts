import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, resolveConfig } from './config.js';

function issuesOf(partial: unknown) {
  try {
    resolveConfig(partial);
  } catch (e) {
    if (e instanceof ConfigError) return e.issues;
    throw e;
  }
  return [];
}

describe('resolveConfig', () => {
  it('fills the POPO defaults from the authors run', () => {
    const c = resolveConfig({});
    expect(c.popo).toMatchObject({ alpha: 0.1, beta: 0.01, tau: 0.995, sigma: 0.02 });
    expect(c.sampling.group_size).toBe(8);
    expect(c.optimizer.clip_grad_norm).toBe(1);
    expect(c).not.toBe(DEFAULT_CONFIG);
  });

  it('keeps overrides and leaves siblings at their defaults', () => {
    const c = resolveConfig({ popo: { alpha: 0 }, optimizer: { lr: 1e-3 } });
    expect(c.popo.alpha).toBe(0);
    expect(c.popo.beta).toBe(0.01);
    expect(c.optimizer.lr).toBe(1e-3);
  });

  it('takes the POPO positive threshold as a setting (default 0.5)', () => {
    expect(resolveConfig({}).popo.positive_threshold).toBe(0.5);
    expect(resolveConfig({ popo: { positive_threshold: 0.8 } }).popo.positive_threshold).toBe(0.8);
  });

  it.each([
    [{ popo: { tau: 1 } }, 'popo.tau', 'must be > 0 and < 1'],
    [{ popo: { tau: 0 } }, 'popo.tau', 'must be > 0 and < 1'],
    [{ popo: { alpha: -1 } }, 'popo.alpha', 'must be >= 0'],
    [{ popo: { beta: -0.1 } }, 'popo.beta', 'must be >= 0'],
    [{ popo: { positive_threshold: 'half' } }, 'popo.positive_threshold', 'number'],
    [{ sampling: { group_size: 1 } }, 'sampling.group_size', 'must be >= 2'],
    [{ optimizer: { lr: 0 } }, 'optimizer.lr', 'must be > 0'],
    [{ popo: { alhpa: 0.1 } }, 'popo.alhpa', 'is not a known setting'],
    [{ algorithm: 'ppo' }, 'algorithm', 'must be one of'],
    [{ steps: 'ten' }, 'steps', 'integer'],
    [{ eval: { n: 2, k: 4 } }, 'eval.k', 'must be <= eval.n'],
    [{ model: { builtin: 'tiny-1m', path: '/x' } }, 'model', 'exactly one'],
    [
      { data: { task: { name: 'arithmetic' } } },
      'data.task.name',
      'unknown task "arithmetic" (built-in: add',
    ],
    [{ data: { task: { name: 'add', difficulty: 9 } } }, 'data.task.difficulty', 'must be <= 4'],
  ])('rejects %j at %s', (partial, field, reason) => {
    const issues = issuesOf(partial);
    const reasons = issues.filter((i) => i.field === field).map((i) => i.reason);
    expect(
      reasons.some((r) => r.includes(reason)),
      JSON.stringify(issues),
    ).toBe(true);
  });

  it('reports every bad field at once', () => {
    const fields = issuesOf({ popo: { tau: 2, alpha: -1 }, sampling: { group_size: 0 } }).map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['popo.tau', 'popo.alpha', 'sampling.group_size']));
  });

  it('accepts explicit examples instead of a built-in task', () => {
    const c = resolveConfig({ data: { train: [{ id: '1', problem: '1+1=', answer: '2' }] } });
    expect(c.data.task).toBeUndefined();
    expect(c.data.train).toHaveLength(1);
  });
});
