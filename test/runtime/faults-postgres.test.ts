import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMigrations } from '../../src/database/migrate.js';
import type { TestDatabase } from '../helpers/db.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  waitFor,
  type WorkerProcess,
} from './helpers/runtime.js';
import { type PgServer, startPostgres } from './helpers/services.js';

/**
 * Postgres faults under a running job, on a Postgres server of this file's own (the shared one is never
 * touched): a 0.5 s `pg_ctl restart`, a 12 s outage, and a cancel whose worker died. Recovery times are printed
 * (docs/runtime.md quotes them); the assertions are about end states only, never about timing.
 */

let server: PgServer;
let db: TestDatabase;
let api: RuntimeApi;
let project: { projectId: string; token: string };
const workers: WorkerProcess[] = [];
const prefix = `popo-test-pgfault-${randomBytes(4).toString('hex')}`;

const RECONCILE = {
  POPO_RECONCILE_INTERVAL_MS: '500',
  POPO_RECONCILE_STALE_MS: '4000',
};
const workerEnv = (id: string) => ({
  DATABASE_URL: db.url,
  REDIS_URL: TEST_REDIS_URL,
  POPO_REDIS_PREFIX: prefix,
  POPO_WORKER_ID: id,
  POPO_WORKER_DEVICES: 'cpu',
  POPO_QUEUE_LOCK_MS: '3000',
  WORKER_HEARTBEAT_TTL_S: '3',
  // A job rides out a short outage inside its step; a longer one hands the job back to the queue.
  POPO_DB_RETRY_MS: '4000',
  ...RECONCILE,
});

/** Queries on a fresh connection each time, retried while the server is restarting (the test's own reads). */
async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  for (let i = 0; ; i++) {
    const c = new pg.Client({ connectionString: db.url });
    try {
      await c.connect();
      return (await c.query(sql, params)).rows as T[];
    } catch (e) {
      if (i > 300) throw e;
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

const jobBody = (steps: number) => ({
  algorithm: 'popo',
  model: { builtin: 'tiny-1m' },
  data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
  steps,
  checkpoint_every: 3,
  seed: 7,
  sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
  optimizer: { lr: 0.001 },
  eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
});

async function createJob(steps: number): Promise<string> {
  const res = await api.request('POST', '/v1/jobs', { token: project.token, json: jobBody(steps) });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as string;
}

const progress = async (id: string) =>
  (await query<{ step: number | null }>('SELECT max(step) AS step FROM metrics WHERE job_id = $1', [id]))[0]
    .step ?? 0;
const statusOf = async (id: string) =>
  (await query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [id]))[0].status;

async function expectEveryStepOnce(id: string, steps: number): Promise<void> {
  const rows = await query<{ step: number }>('SELECT step FROM metrics WHERE job_id = $1 ORDER BY step', [
    id,
  ]);
  expect(rows.map((r) => r.step)).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
}

/** A request that must be answered (not hang): fails the test past `ms`. */
async function bounded(path: string, method = 'GET', json?: unknown, ms = 15_000) {
  const t0 = Date.now();
  const res = await Promise.race([
    api.request(method, path, { token: project.token, ...(json ? { json } : {}) }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${path} hung > ${ms} ms`)), ms)),
  ]);
  return { ...res, ms: Date.now() - t0 };
}

beforeAll(async () => {
  server = await startPostgres();
  const url = await server.createDatabase('popo_faults');
  await runMigrations({ url });
  db = {
    name: 'popo_faults',
    url,
    query: (sql, params) => query(sql, params),
    drop: async () => undefined,
  };
  api = await startRuntimeApi({ db, prefix, env: RECONCILE });
  project = await api.createProject('pg-faults');
  const w = spawnWorker(workerEnv('pgfault-A'));
  workers.push(w);
  await w.ready;
}, 120_000);

afterAll(async () => {
  for (const w of workers) await w.stop('SIGKILL');
  await api?.close();
  await server?.destroy();
  await dropRedisPrefix(prefix);
});

describe('Postgres faults under a running job', () => {
  it('a 0.5 s pg_ctl restart mid-job: the step is retried, the job succeeds with every step once', async () => {
    const id = await createJob(8);
    await waitFor(async () => (await progress(id)) >= 2, 'step 2', 60_000);
    const t0 = Date.now();
    await server.restart();
    const down = Date.now() - t0;
    await waitFor(
      async () => (await progress(id)) > 0 && (await statusOf(id)) !== 'running',
      'job end',
      90_000,
    );
    const [row] = await query<{ status: string; error: string | null }>(
      'SELECT status, error FROM jobs WHERE id = $1',
      [id],
    );
    // A failure here says why (the job's error and the worker's last log lines): it was seen once in CI, unexplained.
    if (row.status !== 'succeeded')
      console.log(`[faults] worker log tail:\n${workers[0].output().slice(-4000)}`);
    expect(row.status, row.error ?? '').toBe('succeeded');
    await expectEveryStepOnce(id, 8);
    const failures = await query(`SELECT message FROM job_events WHERE job_id = $1 AND level = 'error'`, [
      id,
    ]);
    expect(failures).toEqual([]);
    // Retried inside the step: the run was never handed back (that would be a second attempt).
    const [{ attempts }] = await query<{ attempts: number }>('SELECT attempts FROM jobs WHERE id = $1', [id]);
    expect(attempts).toBe(1);
    console.log(`[faults] pg_ctl restart: database down ${down} ms; job succeeded with every step once`);
  });

  it('Postgres down 12 s mid-job: the API answers 503 + Retry-After without hanging; the job resumes and succeeds', async () => {
    const id = await createJob(12);
    await waitFor(async () => (await progress(id)) >= 2, 'step 2', 60_000);
    await server.stop();
    const stoppedAt = Date.now();

    const get = await bounded(`/v1/jobs/${id}`);
    expect(get.status).toBe(503);
    expect(get.body.error.code).toBe('database_unavailable');
    expect(get.headers.get('retry-after')).toMatch(/^\d+$/);
    const post = await bounded('/v1/jobs', 'POST', jobBody(2));
    expect(post.status).toBe(503);
    expect(post.headers.get('retry-after')).toMatch(/^\d+$/);
    const health = await bounded('/v1/health');
    expect(health.status).toBe(503);
    console.log(`[faults] during the outage: GET ${get.ms} ms, POST ${post.ms} ms, health ${health.ms} ms`);

    // Keep it down past the worker's retry budget (4 s): the run hands the job back instead of failing it.
    await new Promise((r) => setTimeout(r, Math.max(0, 12_000 - (Date.now() - stoppedAt))));
    await server.start();
    const upAt = Date.now();
    await waitFor(
      async () => (await progress(id)) >= 3 && (await statusOf(id)) !== 'running',
      'job end',
      120_000,
    );
    const recovered = Date.now() - upAt;
    expect(await statusOf(id)).toBe('succeeded');
    await expectEveryStepOnce(id, 12);
    const [row] = await query<{ error: string | null; attempts: number }>(
      'SELECT error, attempts FROM jobs WHERE id = $1',
      [id],
    );
    expect(row.error).toBeNull();
    // Handed back to the queue once the retry budget ran out, then resumed from its checkpoint by a new attempt.
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    console.log(`[faults] Postgres down 12 s: job finished ${recovered} ms after the database came back`);
  });

  it('a cancel whose worker died completes without any worker (the reconciler finishes it)', async () => {
    const id = await createJob(40);
    await waitFor(async () => (await progress(id)) >= 2, 'step 2', 60_000);
    await workers[0].stop('SIGKILL');
    const cancel = await bounded(`/v1/jobs/${id}/cancel`, 'POST');
    expect(cancel.status).toBe(200);
    expect(cancel.body.status).toBe('cancelling');
    const t0 = Date.now();
    await waitFor(async () => (await statusOf(id)) === 'cancelled', 'cancelled', 60_000);
    const events = await query<{ message: string }>(
      `SELECT message FROM job_events WHERE job_id = $1 AND code = 'status' ORDER BY id`,
      [id],
    );
    expect(events.at(-1)!.message).toMatch(/reconciler/);
    console.log(
      `[faults] ownerless cancel completed ${Date.now() - t0} ms after the request (stale after 4 s)`,
    );
  });
});
