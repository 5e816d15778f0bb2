import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  type ClientSocket,
  connectSocket,
  dropRedisPrefix,
  recordEvents,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  waitFor,
  type WorkerProcess,
} from './helpers/runtime.js';

let db: TestDatabase;
let api: RuntimeApi;
let socket: ClientSocket;
let project: { projectId: string; token: string };
const workers: WorkerProcess[] = [];
const prefix = `popo-test-crash-${randomBytes(4).toString('hex')}`;

const workerEnv = (id: string) => ({
  DATABASE_URL: db.url,
  REDIS_URL: TEST_REDIS_URL,
  POPO_REDIS_PREFIX: prefix,
  POPO_WORKER_ID: id,
  POPO_WORKER_DEVICES: 'cpu',
  // Short lock and heartbeat so a dead worker is noticed in seconds, not the production 30 s.
  POPO_QUEUE_LOCK_MS: '2000',
  WORKER_HEARTBEAT_TTL_S: '2',
});

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startRuntimeApi({ db, prefix });
  project = await api.createProject('crash');
  socket = await connectSocket(api.baseUrl, project.token);
});

afterAll(async () => {
  socket?.close();
  for (const w of workers) await w.stop('SIGKILL');
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

describe('a worker killed mid-job', () => {
  it('is detected; a second worker resumes from the last checkpoint and every step lands exactly once', async () => {
    const a = spawnWorker(workerEnv('crash-A'));
    workers.push(a);
    await a.ready;
    const seen = recordEvents(socket);
    await socket.emitWithAck('subscribe', {});
    const created = await api.request('POST', '/v1/jobs', {
      token: project.token,
      json: {
        algorithm: 'popo',
        model: { builtin: 'tiny-1m' },
        data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
        steps: 8,
        checkpoint_every: 2,
        seed: 5,
        sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
        optimizer: { lr: 0.001 },
        eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
      },
    });
    expect(created.status).toBe(201);
    const jobId: string = created.body.id;

    // Past the step-2 checkpoint, with at least one step recorded after it: that step must be redone, once.
    await waitFor(
      () =>
        seen.filter((e) => e.event === 'job.metrics' && e.payload.job_id === jobId && e.payload.step >= 3)
          .length > 0,
      'step 3',
      60_000,
    );
    a.child.kill('SIGKILL');
    expect(await a.exited).toBeNull();
    const killedAt = new Date();
    const before = await db.query<{ step: number }>(
      'SELECT step FROM metrics WHERE job_id = $1 ORDER BY step',
      [jobId],
    );
    const lastCheckpoint = (
      await db.query<{ step: number }>('SELECT max(step) AS step FROM checkpoints WHERE job_id = $1', [jobId])
    )[0].step;
    expect(lastCheckpoint).toBeGreaterThanOrEqual(2);
    expect(before.at(-1)!.step).toBeGreaterThan(lastCheckpoint);
    expect(
      (await db.query<{ status: string }>('SELECT status FROM jobs WHERE id = $1', [jobId]))[0].status,
    ).toBe('running');

    const b = spawnWorker(workerEnv('crash-B'));
    workers.push(b);
    await waitFor(
      () =>
        seen.some(
          (e) => e.event === 'job.status' && e.payload.id === jobId && e.payload.status === 'succeeded',
        ),
      'succeeded',
      90_000,
    );

    const [job] = await db.query<Record<string, unknown>>(
      'SELECT status, attempts, worker_id, progress_step FROM jobs WHERE id = $1',
      [jobId],
    );
    expect(job).toEqual({ status: 'succeeded', attempts: 2, worker_id: 'crash-B', progress_step: 8 });
    const metrics = await db.query<{ step: number; created_at: Date }>(
      'SELECT step, created_at FROM metrics WHERE job_id = $1 ORDER BY step',
      [jobId],
    );
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Steps up to the checkpoint are A's; every later one was (re)done by B after the kill.
    for (const m of metrics) {
      if (m.step <= lastCheckpoint) expect(m.created_at.getTime()).toBeLessThan(killedAt.getTime());
      else expect(m.created_at.getTime()).toBeGreaterThanOrEqual(killedAt.getTime());
    }
    const events = await db.query<{ code: string; level: string; message: string; step: number | null }>(
      'SELECT code, level, message, step FROM job_events WHERE job_id = $1 ORDER BY id',
      [jobId],
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        code: 'status',
        level: 'warning',
        message: expect.stringMatching(/crash-A stopped responding; resumed by crash-B/),
      }),
    );
    expect(events).toContainEqual(expect.objectContaining({ code: 'resumed', step: lastCheckpoint }));
    const checkpoints = await db.query<{ step: number }>(
      'SELECT step FROM checkpoints WHERE job_id = $1 ORDER BY step',
      [jobId],
    );
    expect(checkpoints.map((c) => c.step)).toEqual([2, 4, 6, 8]);

    // The dead worker's heartbeat expired; the live one is listed by the health endpoint.
    const health = await waitFor(
      async () => {
        const h = await api.request('GET', '/v1/health');
        const ids = (h.body.workers as { id: string }[]).map((w) => w.id);
        return ids.length === 1 && ids[0] === 'crash-B' ? h.body : undefined;
      },
      'health to list only crash-B',
      10_000,
    );
    expect(health.workers[0]).toMatchObject({ device: 'cpu', job: null });
  });
});
