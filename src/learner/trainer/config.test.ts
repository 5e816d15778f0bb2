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

  it.each([
    [{ popo: { tau: 1 } }, 'popo.tau', 'must be a number > 0 and < 1'],
    [{ popo: { tau: 0 } }, 'popo.tau', 'must be a number > 0 and < 1'],
    [{ popo: { alpha: -1 } }, 'popo.alpha', 'must be a number >= 0'],
    [{ popo: { beta: -0.1 } }, 'popo.beta', 'must be a number >= 0'],
    [{ sampling: { group_size: 1 } }, 'sampling.group_size', 'must be an integer >= 2'],
    [{ optimizer: { lr: 0 } }, 'optimizer.lr', 'must be a number > 0'],
    [{ popo: { alhpa: 0.1 } }, 'popo.alhpa', 'is not a known field'],
    [{ popo: { positive_threshold: 'half' } }, 'popo.positive_threshold', 'number'],
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
    [{ popo: { positive_threshold: 1.5 } }, 'popo.positive_threshold', 'must be a number >= 0 and <= 1'],
    [{ data: { overlong: 'wrap' } }, 'data.overlong', 'must be one of: error, skip, truncate_left'],
    [{ sampling: { group_size: 2048 } }, 'sampling.group_size', 'must be an integer >= 2 and <= 1024'],
    [{ popo: 'fast' }, 'popo', 'must be an object'],
    [{ data: { task: { name: 'add', difficulty: 1, n_train: 500 } } }, 'data.task.n_train', 'has only 80'],
    [
      { data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 50 } } },
      'data.task.n_test',
      'must be <= 20',
    ],
    [
      { data: { task: { name: 'add' }, train: [{ id: '1', problem: 'a', answer: 'b' }] } },
      'data',
      'one data source',
    ],
    [{ data: { reward: 'math' } }, 'data', 'must name a data source'],
    [
      { optimizer: { warmup_steps: 10, warmup_ratio: 0.1 } },
      'optimizer.warmup_ratio',
      'must be 0 when optimizer.warmup_steps is set',
    ],
    [{ optimizer: { warmup_ratio: 1 } }, 'optimizer.warmup_ratio', 'must be a number >= 0 and < 1'],
    [{ eval: { top_p: 0 } }, 'eval.top_p', 'must be a number > 0 and <= 1'],
    [{ eval: { max_new_tokens: 0 } }, 'eval.max_new_tokens', 'must be an integer >= 1'],
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

  it('declares popo.positive_threshold (default 0.5: reward >= 0.5 is positive) and data.overlong (default error)', () => {
    const c = resolveConfig({});
    expect(c.popo.positive_threshold).toBe(0.5);
    expect(c.data.overlong).toBe('error');
    expect(resolveConfig({ popo: { positive_threshold: 1 } }).popo.positive_threshold).toBe(1);
    expect(resolveConfig({ popo: { positive_threshold: 0.8 } }).popo.positive_threshold).toBe(0.8);
  });

  it("defaults the authors' predictor width (d 1024), no warm-up ratio, eval top_p 1 and the rollout length", () => {
    const c = resolveConfig({});
    expect(c.popo.predictor_dim).toBe(1024);
    expect(c.optimizer.warmup_ratio).toBe(0);
    expect(c.eval.top_p).toBe(1);
    expect(c.eval.max_new_tokens).toBeUndefined();
    const paper = resolveConfig({
      optimizer: { warmup_ratio: 0.1, schedule: 'cosine' },
      eval: { n: 128, k: 8, temperature: 0.7, top_p: 0.95, max_new_tokens: 3584 },
      popo: { predictor_dim: 4096 },
    });
    expect(paper.eval).toMatchObject({ n: 128, k: 8, temperature: 0.7, top_p: 0.95, max_new_tokens: 3584 });
    expect(paper.popo.predictor_dim).toBe(4096);
  });

  it('accepts exactly the capacity of a small task split', () => {
    const c = resolveConfig({ data: { task: { name: 'add', difficulty: 1, n_train: 80, n_test: 20 } } });
    expect(c.data.task).toMatchObject({ n_train: 80, n_test: 20 });
  });

  it('accepts explicit examples instead of a built-in task', () => {
    const c = resolveConfig({ data: { train: [{ id: '1', problem: '1+1=', answer: '2' }] } });
    expect(c.data.task).toBeUndefined();
    expect(c.data.train).toHaveLength(1);
  });
});

describe('lora', () => {
  it('is absent by default (full fine-tuning) and fills PEFT’s defaults when given', () => {
    expect(DEFAULT_CONFIG.lora).toBeUndefined();
    expect(resolveConfig({ lora: {} }).lora).toEqual({
      rank: 8,
      alpha: 16,
      dropout: 0,
      target_modules: ['q_proj', 'v_proj'],
    });
  });

  it('refuses bad values at the field that holds them', () => {
    expect(issuesOf({ lora: { rank: 0 } })).toEqual([
      { field: 'lora.rank', reason: 'must be an integer >= 1 and <= 4096' },
    ]);
    expect(issuesOf({ lora: { dropout: 1 } })).toEqual([
      { field: 'lora.dropout', reason: 'must be a number >= 0 and < 1' },
    ]);
    expect(issuesOf({ lora: { target_modules: ['q_proj', 'lm_head'] } })).toEqual([
      {
        field: 'lora.target_modules.1',
        reason: 'must be one of: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj',
      },
    ]);
    expect(issuesOf({ lora: { target_modules: [] } })).toEqual([
      { field: 'lora.target_modules', reason: 'must name at least one projection' },
    ]);
    expect(issuesOf({ lora: { target_modules: ['q_proj', 'q_proj'] } })).toEqual([
      { field: 'lora.target_modules', reason: 'must not name a projection twice' },
    ]);
    expect(issuesOf({ lora: { rank: 4, scale: 2 } })).toEqual([
      expect.objectContaining({ field: expect.stringMatching(/^lora/) as unknown }),
    ]);
  });
});
