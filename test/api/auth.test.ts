import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { Redis } from 'ioredis';
import { workerKey } from '../../src/queue/redis-connection.js';
import { startTestApi, TEST_ADMIN_KEY, TEST_REDIS_URL, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

let db: TestDatabase;
let api: TestApi;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({ db, queue: new RecordingQueue(), env: { RATE_LIMIT_PER_MINUTE: '25' } });
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

describe('projects and API keys', () => {
  it('lets the admin key create a project and a key; the key sees its own project', async () => {
    const { projectId, token } = await api.createProject('alpha');
    expect(token).toMatch(/^popo_[A-Za-z0-9_-]{43}$/);
    const me = await api.request('GET', '/v1/me', { token });
    expect(me.status).toBe(200);
    expect(me.body.project.id).toBe(projectId);
    expect(me.body.project.name).toBe('alpha');
  });

  it('stores only the sha256 of a key, and shows its prefix', async () => {
    const { projectId, token } = await api.createProject('hashed');
    const rows = await db.query<{ key_hash: string; prefix: string }>(
      'SELECT key_hash, prefix FROM api_keys WHERE project_id = $1',
      [projectId],
    );
    expect(rows).toHaveLength(1);
    const { createHash } = await import('node:crypto');
    expect(rows[0].key_hash).toBe(createHash('sha256').update(token).digest('hex'));
    expect(token.startsWith(rows[0].prefix)).toBe(true);
    const all = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM api_keys WHERE key_hash = $1 OR prefix = $1`,
      [token],
    );
    expect(all[0].n).toBe(0);
  });

  it('refuses a revoked key', async () => {
    const { projectId, token } = await api.createProject('revoked');
    const keys = await api.request('GET', `/v1/projects/${projectId}/keys`, { token: TEST_ADMIN_KEY });
    expect(keys.status).toBe(200);
    const del = await api.request('DELETE', `/v1/projects/${projectId}/keys/${keys.body[0].id}`, {
      token: TEST_ADMIN_KEY,
    });
    expect(del.status).toBe(200);
    expect(del.body.revoked_at).not.toBeNull();
    const me = await api.request('GET', '/v1/me', { token });
    expect(me.status).toBe(401);
    expect(me.body.error.code).toBe('unauthorized');
  });

  it('keeps projects apart: another project`s dataset and job are 404', async () => {
    const a = await api.createProject('a');
    const b = await api.createProject('b');
    const up = await api.request('POST', '/v1/datasets?name=mine', {
      token: a.token,
      body: '{"problem":"1+1","answer":"2"}\n',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    expect(up.status).toBe(201);
    const job = await api.request('POST', '/v1/jobs', {
      token: a.token,
      json: { algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { dataset_id: up.body.id } },
    });
    expect(job.status).toBe(201);

    for (const path of [
      `/v1/datasets/${up.body.id}`,
      `/v1/jobs/${job.body.id}`,
      `/v1/jobs/${job.body.id}/metrics`,
    ]) {
      const res = await api.request('GET', path, { token: b.token });
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const before = await countRows(db);
    const cancel = await api.request('POST', `/v1/jobs/${job.body.id}/cancel`, { token: b.token });
    expect(cancel.status).toBe(404);
    const del = await api.request('DELETE', `/v1/datasets/${up.body.id}`, { token: b.token });
    expect(del.status).toBe(404);
    expect(await countRows(db)).toEqual(before);
    const still = await api.request('GET', `/v1/jobs/${job.body.id}`, { token: a.token });
    expect(still.body.status).toBe('queued');
  });

  it('rate-limits per key with 429 in the error shape, without affecting other keys', async () => {
    const a = await api.createProject('busy');
    const b = await api.createProject('quiet');
    let limited: { status: number; body: { error: { code: string; message: string } } } | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const res = await api.request('GET', '/v1/me', { token: a.token });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited?.body.error.code).toBe('rate_limited');
    expect(limited?.body.error.message).toMatch(/25 requests/);
    const other = await api.request('GET', '/v1/me', { token: b.token });
    expect(other.status).toBe(200);
  });

  it('serves health without a key: database, redis and the workers heartbeating into Redis', async () => {
    const redis = new Redis(TEST_REDIS_URL);
    const key = workerKey(api.config.redisPrefix, 'w-test-1');
    try {
      const empty = await api.request('GET', '/v1/health');
      expect(empty.status).toBe(200);
      expect(empty.body.database.ok).toBe(true);
      expect(empty.body.redis).toMatchObject({ ok: true, configured: true });
      expect(empty.body.workers).toEqual([]);

      await redis.hset(key, {
        id: 'w-test-1',
        host: 'gpu-box',
        device: 'cuda:0',
        backend: 'tensorflow-gpu',
        job: '',
      });
      await redis.expire(key, 30);
      const res = await api.request('GET', '/v1/health');
      expect(res.body.workers).toEqual([
        {
          id: 'w-test-1',
          host: 'gpu-box',
          pid: null,
          device: 'cuda:0',
          backend: 'tensorflow-gpu',
          job: null,
          ttl_s: expect.any(Number),
          // A heartbeat without per-slot data (an older worker) is listed without slots.
          slots: [],
        },
      ]);
      expect(res.body.workers[0].ttl_s).toBeGreaterThan(0);

      // An expired heartbeat is a dead worker: it disappears.
      await redis.del(key);
      expect((await api.request('GET', '/v1/health')).body.workers).toEqual([]);
    } finally {
      await redis.del(key);
      redis.disconnect();
    }
  });
});

describe('docs', () => {
  it('serves the OpenAPI document and the UI at /docs without a key', async () => {
    const spec = await api.request('GET', '/docs/openapi.json');
    expect(spec.status).toBe(200);
    expect(spec.body.paths['/v1/jobs']).toBeDefined();
    const ui = await fetch(`${api.baseUrl}/docs`);
    expect(ui.status).toBe(200);
    expect(await ui.text()).toMatch(/swagger/i);
  });

  it('answers unknown routes with 404 in the error shape', async () => {
    const res = await api.request('GET', '/v1/nope');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('health with a dependency down', () => {
  it('answers 503 "degraded" and says which dependency failed', async () => {
    const down = await startTestApi({
      db,
      queue: new RecordingQueue(),
      env: { REDIS_URL: 'redis://127.0.0.1:1' },
    });
    try {
      const res = await down.request('GET', '/v1/health');
      expect(res.status).toBe(503);
      expect(res.body.status).toBe('degraded');
      expect(res.body.database.ok).toBe(true);
      expect(res.body.redis).toMatchObject({ ok: false, configured: true, error: expect.any(String) });
    } finally {
      await down.close();
    }
  });
});
