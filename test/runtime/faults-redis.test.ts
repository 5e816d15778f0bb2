import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  waitFor,
  type WorkerProcess,
} from './helpers/runtime.js';
import { type RedisServer, startRedis } from './helpers/services.js';

/**
 * Redis killed (SIGKILL, no persistence) and restarted empty under a running job and two queued ones, on a
 * Redis server of this file's own. Postgres is the truth: the reconciler re-enqueues every job the empty queue
 * lost, and a job created during the outage is accepted at once and enqueued when Redis is back.
 */

let redis: RedisServer;
let db: TestDatabase;
let api: RuntimeApi;
let project: { projectId: string; token: string };
const workers: WorkerProcess[] = [];
const prefix = `popo-test-redisfault-${randomBytes(4).toString('hex')}`;

const RECONCILE = {
  POPO_RECONCILE_INTERVAL_MS: '500',
  POPO_RECONCILE_STALE_MS: '4000',
  POPO_QUEUE_TIMEOUT_MS: '2000',
};

const jobBody = (steps: number) => ({
  algorithm: 'popo',
  model: { builtin: 'tiny-1m' },
  data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
  steps,
  checkpoint_every: 2,
  seed: 3,
  sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
  optimizer: { lr: 0.001 },
  eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
});

async function createJob(steps: number): Promise<{ id: string; ms: number }> {
  const t0 = Date.now();
  const res = await Promise.race([
    api.request('POST', '/v1/jobs', { token: project.token, json: jobBody(steps) }),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error('POST /v1/jobs hung > 15 s')), 15_000),
    ),
  ]);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return { id: res.body.id as string, ms: Date.now() - t0 };
}

const progress = async (id: string) =>
  (
    await db.query<{ step: number | null }>('SELECT max(step) AS step FROM metrics WHERE job_id = $1', [id])
  )[0].step ?? 0;
const statusOf = async (id: string) =>
  (await db.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]))[0].status;

beforeAll(async () => {
  redis = await startRedis();
  db = await createTestDatabase();
  api = await startRuntimeApi({ db, prefix, env: { REDIS_URL: redis.url, ...RECONCILE } });
  project = await api.createProject('redis-faults');
  const w = spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: 'redisfault-A',
    POPO_WORKER_DEVICES: 'cpu',
    POPO_QUEUE_LOCK_MS: '3000',
    WORKER_HEARTBEAT_TTL_S: '3',
    ...RECONCILE,
  });
  workers.push(w);
  await w.ready;
}, 120_000);

afterAll(async () => {
  // Clients close gracefully only against a live server (a test that failed mid-outage left it down).
  if (redis && !redis.running()) await redis.start();
  for (const w of workers) await w.stop('SIGKILL');
  await api?.close();
  await db?.drop();
  await redis?.destroy();
});

describe('Redis killed and restarted empty', () => {
  it('loses no job: running, queued and created-during-the-outage jobs all finish with every step once', async () => {
    const running = await createJob(10);
    await waitFor(async () => (await progress(running.id)) >= 2, 'step 2 of the running job', 60_000);
    // One device slot: these wait in the queue behind the running job.
    const queued = [await createJob(3), await createJob(3)];
    expect(await statusOf(queued[0].id)).toBe('queued');

    await redis.kill();
    const during = await createJob(3);
    console.log(`[faults] POST /v1/jobs with Redis down answered 201 in ${during.ms} ms`);
    const events = await db.query<{ code: string }>('SELECT code FROM job_events WHERE job_id = $1', [
      during.id,
    ]);
    expect(events.map((e) => e.code)).toContain('enqueue_deferred');
    const health = await api.request('GET', '/v1/health');
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toMatch(/^\d+$/);

    await redis.start();
    const upAt = Date.now();
    const all = [running, ...queued, during];
    await waitFor(
      async () => {
        for (const j of all)
          if (!['succeeded', 'failed', 'cancelled'].includes(await statusOf(j.id))) return false;
        return true;
      },
      'every job to finish',
      150_000,
    );
    console.log(
      `[faults] Redis restarted empty: all ${all.length} jobs finished ${Date.now() - upAt} ms later`,
    );
    for (const [j, steps] of [
      [running, 10],
      [queued[0], 3],
      [queued[1], 3],
      [during, 3],
    ] as const) {
      expect(await statusOf(j.id)).toBe('succeeded');
      const rows = await db.query<{ step: number }>(
        'SELECT step FROM metrics WHERE job_id = $1 ORDER BY step',
        [j.id],
      );
      expect(rows.map((r) => r.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    }
  });
});
