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

  it('splits the cores between the BLAS threads of several CPU slots, unless POPO_BLAS_THREADS is set', () => {
    expect(learnerEnv('cpu:0', { PATH: '/bin' }, { slots: 2, cores: 16 })).toEqual({
      PATH: '/bin',
      POPO_BLAS_THREADS: '8',
    });
    expect(learnerEnv('cpu:2', {}, { slots: 3, cores: 2 }).POPO_BLAS_THREADS).toBe('1');
    expect(learnerEnv('cpu', { POPO_BLAS_THREADS: '4' }, { slots: 2, cores: 16 }).POPO_BLAS_THREADS).toBe(
      '4',
    );
    const one = {};
    expect(learnerEnv('cpu', one, { slots: 1, cores: 16 })).toBe(one);
    // Only CPU slots share the cores' BLAS threads.
    expect(learnerEnv('gpu:0', one, { slots: 2, cores: 16 })).toBe(one);
  });
});
