import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { RecordingQueue } from '../helpers/recording-queue.js';
import { dropRedisPrefix, type RuntimeApi, startRuntimeApi, waitFor } from './helpers/runtime.js';

// No POPO_OUTBOUND_ALLOW here: the production default, where webhooks reach public addresses only.
let db: TestDatabase;
let api: RuntimeApi;
let project: { projectId: string; token: string };
let server: Server;
let hits = 0;
let port: number;
const prefix = `popo-test-ssrf-${randomBytes(4).toString('hex')}`;

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
  db = await createTestDatabase();
  api = await startRuntimeApi({
    db,
    prefix,
    queue: new RecordingQueue(),
    env: { POPO_WEBHOOK_POLL_MS: '50', POPO_WEBHOOK_BACKOFF_MS: '50' },
  });
  project = await api.createProject('ssrf');
});

afterAll(async () => {
  server?.close();
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

const createJob = (webhook_url: string) =>
  api.request('POST', '/v1/jobs', {
    token: project.token,
    json: {
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 } },
      webhook_url,
    },
  });

describe('webhook SSRF', () => {
  it.each([
    ['http://127.0.0.1:5433/hook', /127\.0\.0\.1 is a loopback address/],
    ['http://localhost:6380/hook', /localhost resolves to (127\.0\.0\.1|::1) \(loopback\)/],
    ['http://169.254.169.254/latest/meta-data/', /link-local\/cloud metadata/],
    ['http://[::1]:8080/hook', /::1 is a loopback address/],
    ['http://0.0.0.0:3000/hook', /0\.0\.0\.0 is a this-host address/],
    ['http://10.0.0.5/hook', /private/],
  ])('refuses %s at creation with a 400 naming webhook_url', async (url, reason) => {
    const res = await createJob(url);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toContainEqual({
      field: 'webhook_url',
      reason: expect.stringMatching(reason),
    });
  });

  it('checks again at delivery: a host that now resolves to loopback is never called and not retried', async () => {
    const created = await createJob('https://hooks.example.com/done');
    expect(created.status).toBe(201);
    // The URL was public when accepted; by delivery time its host answers with loopback (a DNS rebind).
    await db.query('UPDATE jobs SET webhook_url = $2 WHERE id = $1', [
      created.body.id,
      `http://localhost:${port}/hook`,
    ]);
    const cancelled = await api.request('POST', `/v1/jobs/${created.body.id}/cancel`, {
      token: project.token,
    });
    expect(cancelled.body.status).toBe('cancelled');
    const [row] = await waitFor(async () => {
      const rows = await db.query<{ status: string; attempts: number; last_error: string }>(
        'SELECT status, attempts, last_error FROM webhook_deliveries WHERE job_id = $1',
        [created.body.id],
      );
      return rows[0]?.status === 'failed' && rows;
    }, 'delivery refused');
    expect(row.attempts).toBe(1);
    expect(row.last_error).toMatch(
      /localhost resolves to .* \(loopback\), which is not an allowed destination/,
    );
    expect(hits).toBe(0);
  });
});
