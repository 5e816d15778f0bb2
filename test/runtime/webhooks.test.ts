import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySignature } from '../../src/modules/webhooks/signature.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { RecordingQueue } from '../helpers/recording-queue.js';
import { dropRedisPrefix, type RuntimeApi, startRuntimeApi, waitFor } from './helpers/runtime.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A local HTTP receiver answering with the statuses in `answers` (the last one repeats). */
async function receiver(answers: number[]): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ headers: req.headers, body, at: Date.now() });
      res.statusCode = answers[Math.min(got.length - 1, answers.length - 1)];
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, got, server };
}

let db: TestDatabase;
let api: RuntimeApi;
let project: { projectId: string; token: string };
const servers: Server[] = [];
const prefix = `popo-test-wh-${randomBytes(4).toString('hex')}`;
const BACKOFF_MS = 100;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startRuntimeApi({
    db,
    prefix,
    queue: new RecordingQueue(),
    env: {
      // The receivers below listen on loopback, which webhooks may not reach unless allowlisted.
      POPO_OUTBOUND_ALLOW: '127.0.0.1/32',
      POPO_WEBHOOK_BACKOFF_MS: String(BACKOFF_MS),
      POPO_WEBHOOK_MAX_ATTEMPTS: '3',
      POPO_WEBHOOK_POLL_MS: '50',
    },
  });
  project = await api.createProject('hooks');
});

afterAll(async () => {
  for (const s of servers) s.close();
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

/** A queued job with a webhook, cancelled at once: the quickest way to a terminal state without a worker. */
async function cancelledJobWithHook(url: string): Promise<string> {
  const created = await api.request('POST', '/v1/jobs', {
    token: project.token,
    json: {
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 } },
      webhook_url: url,
    },
  });
  expect(created.status).toBe(201);
  const cancelled = await api.request('POST', `/v1/jobs/${created.body.id}/cancel`, { token: project.token });
  expect(cancelled.body.status).toBe('cancelled');
  return created.body.id;
}

const deliveries = (jobId: string) =>
  db.query<{
    status: string;
    attempts: number;
    response_status: number | null;
    last_error: string | null;
    event: string;
  }>(
    'SELECT status, attempts, response_status, last_error, event FROM webhook_deliveries WHERE job_id = $1',
    [jobId],
  );

describe('webhooks', () => {
  it('delivers a terminal state once, signed with the project’s secret over timestamp and body', async () => {
    const r = await receiver([204]);
    servers.push(r.server);
    const jobId = await cancelledJobWithHook(r.url);
    await waitFor(async () => (await deliveries(jobId))[0]?.status === 'delivered', 'delivered');
    expect(r.got).toHaveLength(1);
    const [{ webhook_secret: secret }] = await db.query<{ webhook_secret: string }>(
      'SELECT webhook_secret FROM projects WHERE id = $1',
      [project.projectId],
    );
    const { headers, body } = r.got[0];
    expect(verifySignature(secret, headers['popo-signature'] as string, body)).toMatchObject({ ok: true });
    // Any change to the body (or a different secret) breaks the signature.
    expect(
      verifySignature(secret, headers['popo-signature'] as string, body.replace('cancelled', 'succeeded')),
    ).toEqual({
      ok: false,
      reason: 'signature mismatch',
    });
    expect(verifySignature('other-secret', headers['popo-signature'] as string, body).ok).toBe(false);
    const parsed = JSON.parse(body);
    expect(parsed).toMatchObject({
      event: 'job.cancelled',
      data: { job: { id: jobId, status: 'cancelled', project_id: project.projectId } },
    });
    expect(headers['popo-event']).toBe('job.cancelled');
    expect(headers['popo-delivery']).toBe(parsed.id);
    expect(await deliveries(jobId)).toEqual([
      { status: 'delivered', attempts: 1, response_status: 204, last_error: null, event: 'job.cancelled' },
    ]);
  });

  it('retries a failing receiver with growing delays and logs each outcome', async () => {
    const r = await receiver([500, 502, 200]);
    servers.push(r.server);
    const jobId = await cancelledJobWithHook(r.url);
    await waitFor(
      async () => (await deliveries(jobId))[0]?.status === 'delivered',
      'delivered after retries',
      20_000,
    );
    expect(r.got).toHaveLength(3);
    const gaps = [r.got[1].at - r.got[0].at, r.got[2].at - r.got[1].at];
    expect(gaps[0]).toBeGreaterThanOrEqual(BACKOFF_MS * 0.9);
    expect(gaps[1]).toBeGreaterThanOrEqual(BACKOFF_MS * 2 * 0.9);
    // The same delivery each time (receivers dedupe on it), each attempt signed afresh.
    expect(new Set(r.got.map((g) => g.headers['popo-delivery'])).size).toBe(1);
    expect(await deliveries(jobId)).toEqual([
      { status: 'delivered', attempts: 3, response_status: 200, last_error: null, event: 'job.cancelled' },
    ]);
  });

  it('gives up after the configured attempts and keeps the last error', async () => {
    const r = await receiver([503]);
    servers.push(r.server);
    const jobId = await cancelledJobWithHook(r.url);
    await waitFor(async () => (await deliveries(jobId))[0]?.status === 'failed', 'failed delivery', 20_000);
    await new Promise((res) => setTimeout(res, BACKOFF_MS * 5));
    expect(r.got).toHaveLength(3);
    expect(await deliveries(jobId)).toEqual([
      {
        status: 'failed',
        attempts: 3,
        response_status: 503,
        last_error: 'receiver answered HTTP 503',
        event: 'job.cancelled',
      },
    ]);
  });

  it('logs a receiver that cannot be reached', async () => {
    const r = await receiver([200]);
    const url = r.url;
    await new Promise((res) => r.server.close(res));
    const jobId = await cancelledJobWithHook(url);
    await waitFor(async () => (await deliveries(jobId))[0]?.status === 'failed', 'failed delivery', 20_000);
    const [d] = await deliveries(jobId);
    expect(d.attempts).toBe(3);
    expect(d.response_status).toBeNull();
    expect(d.last_error).toMatch(/ECONNREFUSED|connect/);
  });

  it('sends nothing for a job without a webhook URL', async () => {
    const created = await api.request('POST', '/v1/jobs', {
      token: project.token,
      json: {
        algorithm: 'grpo',
        model: { builtin: 'tiny-1m' },
        data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 } },
      },
    });
    await api.request('POST', `/v1/jobs/${created.body.id}/cancel`, { token: project.token });
    await new Promise((res) => setTimeout(res, 200));
    expect(await deliveries(created.body.id)).toEqual([]);
  });
});
