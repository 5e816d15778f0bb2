import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/modules/checkpoints/checkpoint-store.js';
import { BullmqJobQueue } from '../../src/queue/bullmq-job-queue.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, TEST_REDIS_URL, type TestApi } from '../helpers/api.js';

let db: TestDatabase;
let api: TestApi;
let queue: BullmqJobQueue;
let token: string;
let datasetId: string;

const popo = (extra: Record<string, unknown> = {}) => ({
  algorithm: 'popo',
  model: { builtin: 'tiny-1m' },
  data: { dataset_id: datasetId },
  steps: 20,
  popo: { alpha: 0.1, tau: 0.99 },
  ...extra,
});

async function inQueue(jobId: string) {
  return queue.queue.getJob(jobId);
}

beforeAll(async () => {
  db = await createTestDatabase();
  // The real BullMQ driver on a prefix of its own, so this file never sees another file's jobs.
  queue = new BullmqJobQueue({ url: TEST_REDIS_URL, prefix: `popo-test-${db.name}` });
  api = await startTestApi({ db, queue });
  ({ token } = await api.createProject());
  const ds = await api.request('POST', '/v1/datasets?name=arith', {
    token,
    body: '{"problem":"1+1","answer":"2"}\n{"problem":"2+2","answer":"4"}\n',
    headers: { 'content-type': 'application/x-ndjson' },
  });
  datasetId = ds.body.id;
});

afterAll(async () => {
  await api?.close();
  await queue?.queue.obliterate({ force: true });
  await queue?.close();
  await db?.drop();
});

describe('jobs', () => {
  it('creates a queued job, stores its hyperparameters and enqueues it on BullMQ with its priority', async () => {
    const res = await api.request('POST', '/v1/jobs', { token, json: popo({ priority: 5, name: 'first' }) });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      kind: 'popo',
      status: 'queued',
      name: 'first',
      model_builtin: 'tiny-1m',
      dataset_id: datasetId,
      priority: 5,
      total_steps: 20,
      // The run document as accepted, every default filled in; service-only fields sit beside it.
      config: {
        algorithm: 'popo',
        steps: 20,
        popo: { alpha: 0.1, tau: 0.99, beta: 0.01, positive_threshold: 0.5 },
        model: { builtin: 'tiny-1m' },
        data: { dataset_id: datasetId, overlong: 'error' },
      },
    });
    expect(res.body.config).not.toHaveProperty('priority');
    expect(res.body.config).not.toHaveProperty('name');
    const entry = await inQueue(res.body.id);
    expect(entry?.data).toEqual({ jobId: res.body.id });
    expect(entry?.opts.priority).toBe(6); // BullMQ priorities start at 1
    const events = await api.request('GET', `/v1/jobs/${res.body.id}/events`, { token });
    expect(events.body.map((e: { code: string }) => e.code)).toEqual(['created']);
  });

  it('accepts a built-in task instead of a dataset', async () => {
    const res = await api.request('POST', '/v1/jobs', {
      token,
      json: {
        algorithm: 'sft',
        model: { builtin: 'tiny-1m' },
        data: { task: { name: 'add', difficulty: 1, n_train: 50, n_test: 10 } },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.task).toEqual({ name: 'add', difficulty: 1, n_train: 50, n_test: 10 });
    expect(res.body.dataset_id).toBeNull();
  });

  it('50 concurrent creates with one Idempotency-Key give one job, one queue entry', async () => {
    const key = `idem-${Date.now()}`;
    const body = popo({ name: 'idem' });
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        api.request('POST', '/v1/jobs', { token, json: body, headers: { 'idempotency-key': key } }),
      ),
    );
    const ids = new Set(results.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(49);
    expect(results.find((r) => r.status === 200)?.headers.get('idempotent-replayed')).toBe('true');
    const rows = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jobs WHERE idempotency_key = $1',
      [key],
    );
    expect(rows[0].n).toBe(1);
    const [id] = ids;
    const events = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM job_events WHERE job_id = $1 AND code = 'created'",
      [id],
    );
    expect(events[0].n).toBe(1);
    expect(await inQueue(id)).toBeDefined();
  });

  it('refuses an Idempotency-Key reused for a different request (409), writing nothing', async () => {
    const key = `reuse-${Date.now()}`;
    const first = await api.request('POST', '/v1/jobs', {
      token,
      json: popo(),
      headers: { 'idempotency-key': key },
    });
    expect(first.status).toBe(201);
    const second = await api.request('POST', '/v1/jobs', {
      token,
      json: popo({ steps: 21 }),
      headers: { 'idempotency-key': key },
    });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('idempotency_key_reused');
    // Same body with keys in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(popo()).reverse());
    const third = await api.request('POST', '/v1/jobs', {
      token,
      json: reordered,
      headers: { 'idempotency-key': key },
    });
    expect(third.status).toBe(200);
    expect(third.body.id).toBe(first.body.id);
  });

  it('lists with status/kind filters and cursor pagination', async () => {
    const { token: t } = await api.createProject('lister');
    const ds = await api.request('POST', '/v1/datasets?name=x', {
      token: t,
      body: '{"problem":"1","answer":"1"}',
      headers: { 'content-type': 'application/x-ndjson' },
    });
    const made: { id: string; kind: string }[] = [];
    for (const kind of ['popo', 'grpo', 'popo', 'sft', 'popo']) {
      const r = await api.request('POST', '/v1/jobs', {
        token: t,
        json: { algorithm: kind, model: { builtin: 'tiny-1m' }, data: { dataset_id: ds.body.id } },
      });
      made.push({ id: r.body.id, kind });
    }
    await api.request('POST', `/v1/jobs/${made[0].id}/cancel`, { token: t });

    const popos = await api.request('GET', '/v1/jobs?kind=popo', { token: t });
    expect(popos.body.items.map((j: { id: string }) => j.id)).toEqual(
      made
        .filter((m) => m.kind === 'popo')
        .map((m) => m.id)
        .reverse(),
    );
    const cancelled = await api.request('GET', '/v1/jobs?status=cancelled', { token: t });
    expect(cancelled.body.items.map((j: { id: string }) => j.id)).toEqual([made[0].id]);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; next_cursor: string | null } } = await api.request(
        'GET',
        `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: t },
      );
      seen.push(...page.body.items.map((j) => j.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(made.map((m) => m.id).reverse());
  });
});

describe('job state changes', () => {
  const create = async () =>
    (await api.request('POST', '/v1/jobs', { token, json: popo() })).body.id as string;
  const act = (id: string, action: string) => api.request('POST', `/v1/jobs/${id}/${action}`, { token });
  const setRunning = (id: string) =>
    db.query("UPDATE jobs SET status = 'running', started_at = now() WHERE id = $1", [id]);

  it('pauses and resumes a queued job: it leaves the queue and comes back', async () => {
    const id = await create();
    const paused = await act(id, 'pause');
    expect(paused.body.status).toBe('paused');
    expect(await inQueue(id)).toBeUndefined();
    const resumed = await act(id, 'resume');
    expect(resumed.body.status).toBe('queued');
    expect(await inQueue(id)).toBeDefined();
  });

  it('asks a running job to pause or cancel through stop_requested; resume withdraws a pause', async () => {
    const id = await create();
    await setRunning(id);
    const pause = await act(id, 'pause');
    expect(pause.body).toMatchObject({ status: 'running', stop_requested: 'pause' });
    const resume = await act(id, 'resume');
    expect(resume.body).toMatchObject({ status: 'running', stop_requested: null });
    const cancel = await act(id, 'cancel');
    expect(cancel.body).toMatchObject({ status: 'cancelling', stop_requested: 'cancel' });
    const again = await act(id, 'cancel');
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('cancelling');
  });

  it('cancels a queued job and retries it as a new attempt', async () => {
    const id = await create();
    const cancelled = await act(id, 'cancel');
    expect(cancelled.body.status).toBe('cancelled');
    expect(cancelled.body.finished_at).not.toBeNull();
    expect(await inQueue(id)).toBeUndefined();
    const retried = await act(id, 'retry');
    expect(retried.body).toMatchObject({ status: 'queued', finished_at: null, error: null });
    expect(await inQueue(id)).toBeDefined();
    const events = await api.request('GET', `/v1/jobs/${id}/events`, { token });
    expect(events.body.map((e: { data: { to?: string } | null }) => e.data?.to ?? null)).toEqual([
      null,
      'cancelled',
      'queued',
    ]);
  });

  it('refuses transitions that make no sense with 409 invalid_state', async () => {
    const id = await create();
    await db.query("UPDATE jobs SET status = 'succeeded' WHERE id = $1", [id]);
    for (const action of ['cancel', 'pause', 'resume', 'retry']) {
      const res = await act(id, action);
      expect(res.status, action).toBe(409);
      expect(res.body.error.code).toBe('invalid_state');
      expect(res.body.error.message).toMatch(/succeeded/);
    }
    const queued = await create();
    const res = await act(queued, 'retry');
    expect(res.status).toBe(409);
    expect(res.body.error.message).toMatch(/only failed or cancelled jobs can be retried/);
  });
});

describe('jobs from a checkpoint', () => {
  it('starts from the latest (or a named) checkpoint of another job and inherits its model and data', async () => {
    const parent = (await api.request('POST', '/v1/jobs', { token, json: popo() })).body;
    const store = api.app.get(CheckpointStore);
    for (const step of [5, 10]) {
      const bytes = new TextEncoder().encode(`weights@${step}`);
      await store.save(parent.id, { step, bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
    const latest = await api.request('POST', '/v1/jobs', {
      token,
      json: { algorithm: 'grpo', from_checkpoint: { job_id: parent.id } },
    });
    expect(latest.status).toBe(201);
    const cps = await db.query<{ id: string; step: number }>(
      'SELECT id, step FROM checkpoints WHERE job_id = $1 ORDER BY step',
      [parent.id],
    );
    expect(latest.body).toMatchObject({
      parent_job_id: parent.id,
      from_checkpoint_id: cps[1].id,
      model_builtin: 'tiny-1m',
      dataset_id: datasetId,
      kind: 'grpo',
      config: { algorithm: 'grpo', model: { builtin: 'tiny-1m' }, data: { dataset_id: datasetId } },
    });
    const named = await api.request('POST', '/v1/jobs', {
      token,
      json: { mode: 'eval', from_checkpoint: { job_id: parent.id, step: 5 } },
    });
    expect(named.body.from_checkpoint_id).toBe(cps[0].id);

    const missing = await api.request('POST', '/v1/jobs', {
      token,
      json: { mode: 'eval', from_checkpoint: { job_id: parent.id, step: 7 } },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details).toEqual([
      { field: 'from_checkpoint.step', reason: `job ${parent.id} has no checkpoint at step 7` },
    ]);
  });
});

describe('sweeps', () => {
  it('expands a grid into its cartesian product of jobs, grouped under one sweep', async () => {
    const res = await api.request('POST', '/v1/sweeps', {
      token,
      json: {
        name: 'alpha-lr',
        base: popo({ optimizer: { lr: 1e-3, warmup_steps: 2 } }),
        grid: { 'popo.alpha': [0, 0.1], 'optimizer.lr': [1e-4, 3e-4, 1e-3] },
      },
    });
    expect(res.status).toBe(201);
    expect(res.body.job_count).toBe(6);
    const configs = res.body.jobs.map(
      (j: { config: { popo: { alpha: number }; optimizer: { lr: number; warmup_steps: number } } }) => [
        j.config.popo.alpha,
        j.config.optimizer.lr,
        j.config.optimizer.warmup_steps,
      ],
    );
    expect(configs).toEqual([
      [0, 1e-4, 2],
      [0, 3e-4, 2],
      [0, 1e-3, 2],
      [0.1, 1e-4, 2],
      [0.1, 3e-4, 2],
      [0.1, 1e-3, 2],
    ]);
    // Untouched base fields survive in every point.
    expect(
      res.body.jobs.every((j: { config: { popo: { tau: number } } }) => j.config.popo.tau === 0.99),
    ).toBe(true);
    for (const j of res.body.jobs) expect(await inQueue(j.id)).toBeDefined();

    const got = await api.request('GET', `/v1/sweeps/${res.body.id}`, { token });
    expect(got.body.jobs.map((j: { id: string }) => j.id)).toEqual(
      res.body.jobs.map((j: { id: string }) => j.id),
    );
    const listed = await api.request('GET', `/v1/jobs?sweep_id=${res.body.id}&limit=100`, { token });
    expect(listed.body.items).toHaveLength(6);
  });

  it('names the bad grid value and writes nothing', async () => {
    const before = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs');
    const res = await api.request('POST', '/v1/sweeps', {
      token,
      json: { base: popo(), grid: { 'popo.tau': [0.9, 1.5], 'sampling.group_size': [4, 1] } },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { field: 'grid.popo.tau[1]', reason: '1.5 must be a number > 0 and < 1' },
      { field: 'grid.sampling.group_size[1]', reason: '1 must be an integer >= 2 and <= 1024' },
    ]);
    const after = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs');
    expect(after[0].n).toBe(before[0].n);
  });

  it('is idempotent with a key', async () => {
    const body = { base: popo(), grid: { seed: [1, 2, 3] } };
    const headers = { 'idempotency-key': `sweep-${Date.now()}` };
    const [a, b] = await Promise.all([
      api.request('POST', '/v1/sweeps', { token, json: body, headers }),
      api.request('POST', '/v1/sweeps', { token, json: body, headers }),
    ]);
    expect([a.status, b.status].sort()).toEqual([200, 201]);
    expect(a.body.id).toBe(b.body.id);
    expect(b.body.jobs.map((j: { id: string }) => j.id)).toEqual(
      a.body.jobs.map((j: { id: string }) => j.id),
    );
    const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM jobs WHERE sweep_id = $1', [
      a.body.id,
    ]);
    expect(n[0].n).toBe(3);
  });
});
