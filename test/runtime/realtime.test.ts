import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricRepository } from '../../src/repositories/metric.repository.js';
import { EmitterRealtimePublisher } from '../../src/modules/realtime/emitter-publisher.js';
import { RealtimeGateway } from '../../src/modules/realtime/realtime.gateway.js';
import type { StepMetrics } from '../../src/learner/trainer/types.js';
import { zeroMetrics } from '../../src/learner/trainer/metrics.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  type ClientSocket,
  connectSocket,
  dropRedisPrefix,
  recordEvents,
  type RuntimeApi,
  startRuntimeApi,
  TEST_ADMIN_KEY,
  TEST_REDIS_URL,
  waitFor,
} from './helpers/runtime.js';

let db: TestDatabase;
let apiA: RuntimeApi;
let apiB: RuntimeApi;
let p1: { projectId: string; token: string };
let p2: { projectId: string; token: string };
let jobId: string;
let otherJobId: string;
const prefix = `popo-test-rt-${randomBytes(4).toString('hex')}`;
const sockets: ClientSocket[] = [];

const TASK = { name: 'add', difficulty: 1, n_train: 10, n_test: 2 };

async function socketFor(api: RuntimeApi, token: string) {
  const s = await connectSocket(api.baseUrl, token);
  sockets.push(s);
  return s;
}

function stepMetrics(step: number): StepMetrics {
  return zeroMetrics(step, 'cpu', { reward_mean: step / 10, loss: step });
}

beforeAll(async () => {
  db = await createTestDatabase();
  // Two API instances on one database and one Redis: the socket.io Redis adapter must join them.
  apiA = await startRuntimeApi({ db, prefix });
  apiB = await startRuntimeApi({ db, prefix });
  p1 = await apiA.createProject('p1');
  p2 = await apiA.createProject('p2');
  const create = async (token: string) => {
    const res = await apiA.request('POST', '/v1/jobs', {
      token,
      json: { algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { task: TASK } },
    });
    if (res.status !== 201) throw new Error(JSON.stringify(res.body));
    return res.body.id as string;
  };
  jobId = await create(p1.token);
  otherJobId = await create(p2.token);
});

afterAll(async () => {
  for (const s of sockets) s.close();
  await apiA?.close();
  await apiB?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

describe('realtime gateway: authentication', () => {
  it('refuses a socket without a key, with an unknown key, and with the admin key', async () => {
    await expect(connectSocket(apiA.baseUrl, undefined)).rejects.toThrow(
      /unauthorized: pass the API key as auth.token/,
    );
    await expect(connectSocket(apiA.baseUrl, 'popo_not-a-real-key')).rejects.toThrow(
      /invalid or revoked API key/,
    );
    await expect(connectSocket(apiA.baseUrl, TEST_ADMIN_KEY)).rejects.toThrow(/project API key/);
  });

  it('refuses a revoked key', async () => {
    const k = await apiA.request('POST', `/v1/projects/${p1.projectId}/keys`, {
      token: TEST_ADMIN_KEY,
      json: { name: 'tmp' },
    });
    const s = await socketFor(apiA, k.body.token);
    s.close();
    const del = await apiA.request('DELETE', `/v1/projects/${p1.projectId}/keys/${k.body.id}`, {
      token: TEST_ADMIN_KEY,
    });
    expect([200, 204]).toContain(del.status);
    await expect(connectSocket(apiA.baseUrl, k.body.token)).rejects.toThrow(/invalid or revoked/);
  });
});

describe('realtime gateway: subscribe', () => {
  it('answers bad subscribe requests with a reason naming the field, and hides other projects’ jobs', async () => {
    const s = await socketFor(apiA, p1.token);
    const ask = (req: unknown) => s.emitWithAck('subscribe', req as never);
    expect(await ask({ job_id: 'nope' })).toEqual({
      ok: false,
      error: { code: 'validation_failed', message: 'job_id: must be a UUID' },
    });
    expect(await ask({ job_id: otherJobId })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(await ask({ job_id: randomUUID() })).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect(await ask({ project_id: p2.projectId })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(await ask({ jobid: jobId })).toMatchObject({
      ok: false,
      error: { message: 'jobid: is not a known field (use job_id, since_step or project_id)' },
    });
    expect(await ask({ job_id: jobId, project_id: p1.projectId })).toMatchObject({
      ok: false,
      error: { message: 'give either job_id or project_id, not both' },
    });
    expect(await ask([1])).toMatchObject({ ok: false, error: { code: 'validation_failed' } });
  });

  it('a late subscriber first gets the current status and the latest metrics', async () => {
    // Rows as a worker's run writes them (MetricsService.recordStep), without claiming the job: it stays queued.
    const metrics = apiA.app.get(MetricRepository);
    for (const step of [1, 2, 3]) {
      const { step: _, ...values } = stepMetrics(step);
      await metrics.insertStep(jobId, step, values);
    }
    const s = await socketFor(apiB, p1.token);
    const seen = recordEvents(s);
    const ack = await s.emitWithAck('subscribe', { job_id: jobId });
    expect(ack).toMatchObject({
      ok: true,
      room: `job:${jobId}`,
      // The REST job DTO (GET /v1/jobs/:id), dates as ISO strings.
      status: { id: jobId, project_id: p1.projectId, status: 'queued', created_at: expect.any(String) },
      latest_metrics: { job_id: jobId, step: 3, values: { loss: 3 } },
    });
    await waitFor(() => seen.length >= 2, 'snapshot events');
    expect(seen.map((e) => e.event)).toEqual(['job.status', 'job.metrics']);
    expect(seen[1].payload).toMatchObject({ step: 3, values: { reward_mean: 0.3 } });
  });
});

describe('realtime gateway: membership order', () => {
  it('applies leaves and joins in the order sent: the last join wins, whatever the lookups race', async () => {
    // The dashboard moving between two views of one job sends `unsubscribe` then `subscribe` back to back; both
    // await a database lookup, and without ordering a late leave silenced the job (a cancel never showed).
    const s = await socketFor(apiA, p1.token);
    expect(await s.emitWithAck('subscribe', { job_id: jobId })).toMatchObject({ ok: true });
    for (let i = 0; i < 30; i++) {
      s.emit('unsubscribe', { job_id: jobId }, () => undefined);
      s.emit('subscribe', { job_id: jobId }, () => undefined);
    }
    s.emit('unsubscribe', { job_id: jobId }, () => undefined);
    expect(await s.emitWithAck('subscribe', { job_id: jobId })).toMatchObject({ ok: true });
    const members = await apiA.app.get(RealtimeGateway).server.in(`job:${jobId}`).fetchSockets();
    expect(members.map((m) => m.id)).toContain(s.id);
  });
});

describe('realtime gateway: fan-out', () => {
  it('changes made through one API instance reach sockets on the other (Redis adapter), once each', async () => {
    const onB = await socketFor(apiB, p1.token);
    const onA = await socketFor(apiA, p1.token);
    const jobSeen = recordEvents(onB);
    const projectSeen = recordEvents(onA);
    expect(await onB.emitWithAck('subscribe', { job_id: jobId })).toMatchObject({ ok: true });
    expect(await onA.emitWithAck('subscribe', {})).toMatchObject({
      ok: true,
      room: `project:${p1.projectId}`,
    });
    await waitFor(() => jobSeen.length >= 2 && projectSeen.length >= 1, 'snapshots');
    jobSeen.length = 0;
    projectSeen.length = 0;

    const paused = await apiA.request('POST', `/v1/jobs/${jobId}/pause`, { token: p1.token });
    expect(paused.status).toBe(200);
    const isPaused = (e: { event: string; payload: { status?: string } }) =>
      e.event === 'job.status' && e.payload.status === 'paused';
    await waitFor(
      () => jobSeen.some(isPaused) && projectSeen.some(isPaused),
      'paused status on both instances',
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(jobSeen.filter(isPaused)).toHaveLength(1);
    expect(projectSeen.filter(isPaused)).toHaveLength(1);

    const resumed = await apiB.request('POST', `/v1/jobs/${jobId}/resume`, { token: p1.token });
    expect(resumed.status).toBe(200);
    await waitFor(
      () => projectSeen.some((e) => e.event === 'job.status' && e.payload.status === 'queued'),
      'resume seen on A',
    );
  });

  it('a worker’s emitter reaches subscribers of the job and its project only', async () => {
    const jobSocket = await socketFor(apiB, p1.token);
    const projectSocket = await socketFor(apiA, p1.token);
    const outsider = await socketFor(apiA, p2.token);
    await jobSocket.emitWithAck('subscribe', { job_id: jobId });
    await projectSocket.emitWithAck('subscribe', {});
    await outsider.emitWithAck('subscribe', {});
    await new Promise((r) => setTimeout(r, 100));
    const [a, b, c] = [recordEvents(jobSocket), recordEvents(projectSocket), recordEvents(outsider)];

    const redis = new Redis(TEST_REDIS_URL);
    try {
      const publisher = new EmitterRealtimePublisher(redis, prefix);
      publisher.emit('job.metrics', {
        job_id: jobId,
        project_id: p1.projectId,
        step: 99,
        values: { loss: 0.5 },
      });
      publisher.emit('job.metrics', {
        job_id: otherJobId,
        project_id: p2.projectId,
        step: 7,
        values: { loss: 1 },
      });
      await waitFor(() => a.length && b.length && c.length, 'emitted metrics');
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await redis.quit();
    }
    expect(a.map((e) => e.payload.step)).toEqual([99]);
    expect(b.map((e) => e.payload.step)).toEqual([99]);
    expect(c.map((e) => [e.payload.job_id, e.payload.step])).toEqual([[otherJobId, 7]]);
  });
});
