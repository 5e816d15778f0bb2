import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerHeartbeat } from '../../src/modules/worker/heartbeat.js';
import {
  InMemoryWorkerRegistry,
  RedisWorkerRegistry,
  type WorkerRegistry,
} from '../../src/modules/worker/worker-registry.js';
import { dropRedisPrefix, TEST_REDIS_URL } from './helpers/runtime.js';

const prefix = `popo-test-hb-${randomBytes(4).toString('hex')}`;
const redis = new Redis(TEST_REDIS_URL);

afterAll(async () => {
  await dropRedisPrefix(prefix);
  await redis.quit();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  ['Redis', () => new RedisWorkerRegistry(redis, prefix)],
  ['in-memory', () => new InMemoryWorkerRegistry()],
] as [string, () => WorkerRegistry][])('worker heartbeat (%s registry)', (_name, make) => {
  it('publishes the worker with its devices, backend and running jobs, and removes it at stop', async () => {
    const registry = make();
    const hb = new WorkerHeartbeat(registry, {
      id: `w-${_name}`,
      devices: ['cuda:0', 'cuda:1'],
      backend: 'tensorflow-gpu',
      ttlS: 5,
    });
    await hb.start();
    expect(await registry.list()).toEqual([
      expect.objectContaining({
        id: `w-${_name}`,
        device: 'cuda:0,cuda:1',
        backend: 'tensorflow-gpu',
        job: '',
        pid: process.pid,
      }),
    ]);
    await hb.setJob('cuda:1', 'job-b');
    await hb.setJob('cuda:0', 'job-a');
    expect((await registry.list())[0].job.split(',').sort()).toEqual(['job-a', 'job-b']);
    await hb.setJob('cuda:1', undefined);
    expect((await registry.list())[0].job).toBe('job-a');
    await hb.stop();
    expect(await registry.list()).toEqual([]);
  });

  it('carries each slot: its job, its learner process and its last crash', async () => {
    const registry = make();
    const hb = new WorkerHeartbeat(registry, {
      id: `slots-${_name}`,
      devices: ['cuda:0', 'cuda:1'],
      backend: '',
      ttlS: 5,
    });
    await hb.start();
    expect((await registry.list())[0].slots.map((s) => [s.index, s.device, s.learner.state])).toEqual([
      [0, 'cuda:0', 'starting'],
      [1, 'cuda:1', 'starting'],
    ]);
    await hb.setLearner('cuda:1', { pid: 4242, state: 'idle', backend: 'wasm' });
    await hb.setJob('cuda:1', 'job-c');
    await hb.setCrash('cuda:1', 'LearnerCrashError: learner process 4242 was killed by SIGABRT');
    await hb.setLearner('cuda:1', { pid: null, state: 'restarting' });
    const [w] = await registry.list();
    expect(w.backend).toBe('wasm');
    expect(w.slots[1]).toMatchObject({
      index: 1,
      device: 'cuda:1',
      backend: 'wasm',
      job: 'job-c',
      learner: { pid: null, state: 'restarting' },
      last_crash: { job: 'job-c', error: expect.stringMatching(/SIGABRT/) },
    });
    expect(w.slots[0]).toMatchObject({ backend: null, job: null, last_crash: null });
    await hb.stop();
    // A change after stop (a learner exiting during shutdown) does not bring the entry back.
    await hb.setLearner('cuda:0', { pid: null, state: 'down' });
    expect(await registry.list()).toEqual([]);
  });

  it('an entry that is not refreshed expires after its TTL (a dead worker disappears)', async () => {
    const registry = make();
    const hb = new WorkerHeartbeat(registry, {
      id: `dead-${_name}`,
      devices: ['cpu'],
      backend: 'wasm',
      ttlS: 1,
    });
    await registry.beat(hb.info(), 1);
    expect((await registry.list()).map((w) => w.id)).toEqual([`dead-${_name}`]);
    await sleep(1200);
    expect(await registry.list()).toEqual([]);
  });
});

describe('worker heartbeat (Redis layout read by /v1/health)', () => {
  it('is a hash at <prefix>:worker:<id> with a TTL', async () => {
    const hb = new WorkerHeartbeat(new RedisWorkerRegistry(redis, prefix), {
      id: 'layout',
      devices: ['cpu'],
      backend: 'wasm',
      ttlS: 30,
    });
    await hb.start();
    const key = `${prefix}:worker:layout`;
    expect(await redis.hgetall(key)).toMatchObject({ id: 'layout', device: 'cpu', backend: 'wasm', job: '' });
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(25);
    expect(ttl).toBeLessThanOrEqual(30);
    await hb.stop();
    expect(await redis.exists(key)).toBe(0);
  });

  it('refuses a non-positive TTL', () => {
    expect(
      () =>
        new WorkerHeartbeat(new InMemoryWorkerRegistry(), {
          id: 'x',
          devices: ['cpu'],
          backend: 'cpu',
          ttlS: 0,
        }),
    ).toThrow(/ttlS/);
  });
});
