import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { Redis } from 'ioredis';
import { workerKey } from '../../src/queue/redis-connection.js';
import { RedisWorkerRegistry } from '../../src/modules/worker/worker-registry.js';
import { startTestApi, TEST_ADMIN_KEY, TEST_REDIS_URL, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';
import { waitFor } from '../runtime/helpers/runtime.js';

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
    const registry = new RedisWorkerRegistry(redis, api.config.redisPrefix);
    // Reports are cached for a second: poll for the state rather than expecting it on the next request.
    const healthWhen = (ok: (body: { workers: unknown[] }) => boolean) =>
      waitFor(
        async () => {
          const res = await api.request('GET', '/v1/health');
          return ok(res.body) ? res : undefined;
        },
        'health',
        10_000,
      );
    try {
      const empty = await api.request('GET', '/v1/health');
      expect(empty.status).toBe(200);
      expect(empty.body.database.ok).toBe(true);
      expect(empty.body.redis).toMatchObject({ ok: true, configured: true });
      expect(empty.body.workers).toEqual([]);

      await registry.beat(
        {
          id: 'w-test-1',
          host: 'gpu-box',
          pid: 1,
          device: 'cuda:0',
          backend: 'tensorflow-gpu',
          job: '',
          started_at: new Date().toISOString(),
          seen_at: new Date().toISOString(),
          slots: [],
        },
        30,
      );
      const res = await healthWhen((b) => b.workers.length > 0);
      expect(res.body.workers).toEqual([
        {
          id: 'w-test-1',
          host: 'gpu-box',
          pid: 1,
          device: 'cuda:0',
          backend: 'tensorflow-gpu',
          job: null,
          ttl_s: expect.any(Number),
          slots: [],
        },
      ]);
      expect(res.body.workers[0].ttl_s).toBeGreaterThan(0);

      // An expired heartbeat is a dead worker: it disappears.
      await redis.del(workerKey(api.config.redisPrefix, 'w-test-1'));
      await healthWhen((b) => b.workers.length === 0);
    } finally {
      await registry.remove('w-test-1');
      redis.disconnect();
    }
  });

  it('answers a burst of health checks from one cached report, without scanning the keyspace', async () => {
    const monitor = new Redis(TEST_REDIS_URL);
    const commands: string[] = [];
    const m = await monitor.monitor();
    // The Redis is shared with other test files: keep only commands on this API's keys.
    const prefix = api.config.redisPrefix;
    m.on('monitor', (_t: string, args: string[]) => {
      if (args.some((a) => a.includes(prefix))) commands.push(args[0].toLowerCase());
    });
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => api.request('GET', '/v1/health')));
      expect(answers.every((a) => a.status === 200)).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      expect(commands).not.toContain('scan');
      expect(commands).not.toContain('keys');
      // One report (two at a cache boundary), not fifty.
      expect(commands.filter((c) => c === 'zrangebyscore').length).toBeLessThanOrEqual(2);
    } finally {
      m.disconnect();
      monitor.disconnect();
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
