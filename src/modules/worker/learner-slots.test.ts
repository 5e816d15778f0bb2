import { describe, expect, it } from 'vitest';
import { learnerEnv } from './learner-slots.js';

describe('learnerEnv', () => {
  it('gives a cuda:N slot only the N-th GPU the worker sees', () => {
    expect(learnerEnv('cuda:1', { PATH: '/bin' })).toEqual({ PATH: '/bin', CUDA_VISIBLE_DEVICES: '1' });
    expect(learnerEnv('cuda:1', { CUDA_VISIBLE_DEVICES: '4, 6' }).CUDA_VISIBLE_DEVICES).toBe('6');
    expect(learnerEnv('cuda:0', { CUDA_VISIBLE_DEVICES: '3' }).CUDA_VISIBLE_DEVICES).toBe('3');
  });

  it("leaves the worker's environment for CPU slots and for slots past the visible GPUs", () => {
    const env = { CUDA_VISIBLE_DEVICES: '2' };
    expect(learnerEnv('cpu', env)).toBe(env);
    expect(learnerEnv('cpu:1', env)).toBe(env);
    expect(learnerEnv('cuda:1', env)).toBe(env);
  });
});
