import { describe, expect, it } from 'vitest';
import { loadRuntimeConfig, RuntimeConfigError } from './runtime-config.js';

describe('loadRuntimeConfig', () => {
  it('has production defaults and a unique worker id per process', () => {
    const a = loadRuntimeConfig({});
    const b = loadRuntimeConfig({});
    expect(a).toMatchObject({
      queueLockMs: 30_000,
      projectMaxRunning: 4,
      webhook: { maxAttempts: 8, backoffMs: 2_000, timeoutMs: 10_000 },
    });
    expect(a.workerDevices).toBeUndefined();
    expect(a.workerId).not.toBe(b.workerId);
  });

  it('reads the environment, treating empty values as unset', () => {
    const c = loadRuntimeConfig({
      POPO_WORKER_ID: 'gpu-box-1',
      POPO_WORKER_DEVICES: 'cuda:0,cuda:1',
      POPO_QUEUE_LOCK_MS: '5000',
      POPO_PROJECT_MAX_RUNNING: '',
    });
    expect(c).toMatchObject({
      workerId: 'gpu-box-1',
      workerDevices: 'cuda:0,cuda:1',
      queueLockMs: 5000,
      projectMaxRunning: 4,
    });
  });

  it('names every bad variable and why', () => {
    try {
      loadRuntimeConfig({
        POPO_QUEUE_LOCK_MS: '10',
        POPO_WORKER_DEVICES: 'cuda 0',
        POPO_WEBHOOK_MAX_ATTEMPTS: 'many',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RuntimeConfigError);
      const fields = (e as RuntimeConfigError).problems.map((p) => p.field);
      expect(fields).toEqual(
        expect.arrayContaining(['POPO_QUEUE_LOCK_MS', 'POPO_WORKER_DEVICES', 'POPO_WEBHOOK_MAX_ATTEMPTS']),
      );
      expect((e as Error).message).toMatch(/POPO_QUEUE_LOCK_MS must not be less than 500/);
    }
  });
});
