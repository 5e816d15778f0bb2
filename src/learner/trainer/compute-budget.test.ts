import { describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../model/config.js';
import { approxParams, stepBudget } from './compute-budget.js';

const LIMITS = { maxTokensPerStep: 16_777_216, slotFlops: 2e10, warnStepSeconds: 600 };
const sampling = (group_size: number, prompts_per_step: number, max_new_tokens: number) => ({
  sampling: { group_size, prompts_per_step, max_new_tokens },
});

describe('compute budget', () => {
  it('counts the built-in models about as their names say', () => {
    expect(approxParams(BUILTIN_MODELS['tiny-1m'])).toBeGreaterThan(0.8e6);
    expect(approxParams(BUILTIN_MODELS['tiny-1m'])).toBeLessThan(1.5e6);
    expect(approxParams(BUILTIN_MODELS['tiny-10m'])).toBeGreaterThan(8e6);
    expect(approxParams(BUILTIN_MODELS['tiny-10m'])).toBeLessThan(12e6);
  });

  it('refuses 1024 × 4096 × 1000 tokens per step, naming the three fields', () => {
    const b = stepBudget(sampling(1024, 4096, 900), 100, LIMITS, BUILTIN_MODELS['tiny-1m']);
    expect(b.tokensPerStep).toBe(1024 * 4096 * 1000);
    expect(b.issues.map((i) => i.field)).toEqual([
      'sampling.group_size',
      'sampling.prompts_per_step',
      'sampling.max_new_tokens',
    ]);
    expect(b.warnings).toEqual([]);
  });

  it('accepts a small step silently and a slow one with a warning', () => {
    const small = stepBudget(sampling(4, 2, 4), 10, LIMITS, BUILTIN_MODELS['tiny-1m']);
    expect(small).toMatchObject({ tokensPerStep: 112, issues: [], warnings: [] });
    expect(small.estStepSeconds).toBeLessThan(1);
    const slow = stepBudget(sampling(64, 64, 512), 20, LIMITS, BUILTIN_MODELS['tiny-10m']);
    expect(slow.issues).toEqual([]);
    expect(slow.warnings[0]).toMatch(/estimated at ~\d+ s/);
  });
});
