import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointStore } from '../../src/modules/checkpoints/checkpoint-store.js';
import { verifySignature } from '../../src/modules/webhooks/signature.js';
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

/**
 * End to end: HTTP → Postgres → BullMQ → a real worker PROCESS running the real trainer → metrics, checkpoints,
 * events in Postgres → socket.io → webhook. Tiny runs (tiny-1m, a few steps) keep it to seconds per job.
 */

let db: TestDatabase;
let api: RuntimeApi;
let worker: WorkerProcess;
let socket: ClientSocket;
let seen: ReturnType<typeof recordEvents>;
let project: { projectId: string; token: string };
let hookServer: Server;
let hookUrl: string;
const hooks: { headers: Record<string, unknown>; body: string }[] = [];
const prefix = `popo-test-e2e-${randomBytes(4).toString('hex')}`;

const SMALL = {
  seed: 3,
  sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
  optimizer: { lr: 0.001 },
  sft: { batch_size: 4 },
  eval: { n: 1, k: 1, temperature: 0, max_examples: 4 },
};

function jsonl(withCompletion: boolean): string {
  const rows = [];
  for (let i = 0; i < 12; i++) {
    const a = i % 5;
    const b = (i * 3) % 5;
    rows.push({
      problem: `${a}+${b}=`,
      answer: String(a + b),
      ...(withCompletion ? { completion: String(a + b) } : {}),
      ...(i >= 10 ? { split: 'test' } : {}),
    });
  }
  return rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

async function uploadDataset(name: string, body: string): Promise<string> {
  const res = await api.request('POST', `/v1/datasets?name=${name}`, {
    token: project.token,
    body,
    headers: { 'content-type': 'application/x-ndjson' },
  });
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

async function createJob(body: Record<string, unknown>): Promise<string> {
  const res = await api.request('POST', '/v1/jobs', { token: project.token, json: { ...SMALL, ...body } });
  if (res.status !== 201) throw new Error(`create job: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** `job.status` carries the job DTO (its `id`); the other events name their job in `job_id`. */
const eventsOf = (jobId: string, event: string) =>
  seen.filter(
    (e) => e.event === event && (event === 'job.status' ? e.payload.id : e.payload.job_id) === jobId,
  );
const statusSeen = (jobId: string, status: string) =>
  eventsOf(jobId, 'job.status').some((e) => e.payload.status === status);
const stepCounts = (jobId: string) =>
  db.query<{ step: number; n: number }>(
    'SELECT step, count(*)::int AS n FROM metrics WHERE job_id = $1 GROUP BY step ORDER BY step',
    [jobId],
  );
/** The step records the API serves: each carries its algorithm's fields and no other algorithm's. */
async function expectServedMetrics(jobId: string, kind: string, own: string[], foreign: string[]) {
  const res = await api.request('GET', `/v1/jobs/${jobId}/metrics`, { token: project.token });
  expect(res.status).toBe(200);
  expect(res.body.items.length).toBeGreaterThan(0);
  for (const { values } of res.body.items as { values: Record<string, unknown> }[]) {
    expect(values).toMatchObject({
      algorithm: kind,
      loss: expect.any(Number),
      grad_norm: expect.any(Number),
    });
    for (const k of own) expect(values, k).toHaveProperty(k);
    for (const k of foreign) expect(values, k).not.toHaveProperty(k);
  }
}

const jobRow = async (jobId: string) =>
  (await db.query<Record<string, any>>('SELECT * FROM jobs WHERE id = $1', [jobId]))[0]; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as { port: number }).port}/done`;

  db = await createTestDatabase();
  // The webhook receiver is on loopback: allowlisted for the API (accepts the URL) and the worker (delivers).
  api = await startRuntimeApi({ db, prefix, env: { POPO_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  project = await api.createProject('e2e');
  const t0 = Date.now();
  worker = spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: 'e2e-worker-1',
    POPO_WORKER_DEVICES: 'cpu',
    POPO_WEBHOOK_POLL_MS: '100',
    POPO_OUTBOUND_ALLOW: '127.0.0.1/32',
  });
  await worker.ready;
  console.log(`worker process ready in ${Date.now() - t0} ms`);
  socket = await connectSocket(api.baseUrl, project.token);
  seen = recordEvents(socket);
  // Subscribed to the whole project before any job exists, so every step of every job must arrive.
  expect(await socket.emitWithAck('subscribe', {})).toMatchObject({ ok: true });
});

afterAll(async () => {
  socket?.close();
  const code = await worker?.stop('SIGTERM');
  if (code !== 0 && code !== null) console.log(worker.output());
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
  hookServer?.close();
});

async function expectCompletedRun(jobId: string, steps: number, checkpointSteps: number[]) {
  await waitFor(
    () => statusSeen(jobId, 'succeeded') || statusSeen(jobId, 'failed'),
    `job ${jobId} to finish`,
    60_000,
  );
  const row = await jobRow(jobId);
  expect(row.error).toBeNull();
  expect(row).toMatchObject({
    status: 'succeeded',
    attempts: 1,
    worker_id: 'e2e-worker-1',
    device: 'cpu',
    progress_step: steps,
  });
  expect(row.backend).toMatch(/wasm|cpu|tensorflow/);
  expect(row.result).toMatchObject({ steps_done: steps, final_checkpoint_step: steps });

  // Postgres: each step exactly once; checkpoints whose bytes verify against their sha256.
  expect(await stepCounts(jobId)).toEqual(Array.from({ length: steps }, (_, i) => ({ step: i + 1, n: 1 })));
  const store = api.app.get(CheckpointStore);
  const checkpoints = await store.list(jobId);
  expect(checkpoints.map((c) => c.step)).toEqual(checkpointSteps);
  for (const c of checkpoints) {
    const blob = await store.load(c);
    expect(blob.bytes.length).toBe(Number(c.size_bytes));
  }

  // The socket: every step's metrics in order, each checkpoint, and the status path.
  expect(eventsOf(jobId, 'job.metrics').map((e) => e.payload.step)).toEqual(
    Array.from({ length: steps }, (_, i) => i + 1),
  );
  expect(eventsOf(jobId, 'job.metrics')[0].payload.values).toHaveProperty('loss');
  expect(eventsOf(jobId, 'job.checkpoint').map((e) => e.payload.step)).toEqual(checkpointSteps);
  const statuses = eventsOf(jobId, 'job.status').map((e) => e.payload.status);
  expect(statuses[0]).toBe('queued');
  expect(statuses).toContain('running');
  expect(statuses.at(-1)).toBe('succeeded');
  expect(eventsOf(jobId, 'job.event').map((e) => e.payload.code)).toContain('started');
}

describe('training end to end (API + worker process + socket)', () => {
  it('POPO on an uploaded dataset: metrics, checkpoints, socket updates, signed webhook', async () => {
    const datasetId = await uploadDataset('sums', jsonl(false));
    const jobId = await createJob({
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { dataset_id: datasetId, reward: 'exact' },
      steps: 3,
      checkpoint_every: 2,
      webhook_url: hookUrl,
    });
    await expectCompletedRun(jobId, 3, [2, 3]);
    await expectServedMetrics(jobId, 'popo', ['reward_mean', 'l_sim', 'drift', 'drift_bound'], ['kl']);
    const row = await jobRow(jobId);
    // The dataset's two `split: test` rows are the eval set.
    expect(row.result.eval_after).toMatchObject({ examples: 2 });

    await waitFor(() => hooks.find((h) => JSON.parse(h.body).data.job.id === jobId), 'webhook', 20_000);
    const hook = hooks.find((h) => JSON.parse(h.body).data.job.id === jobId)!;
    const [{ webhook_secret }] = await db.query<{ webhook_secret: string }>(
      'SELECT webhook_secret FROM projects WHERE id = $1',
      [project.projectId],
    );
    expect(
      verifySignature(webhook_secret, hook.headers['popo-signature'] as string, hook.body),
    ).toMatchObject({ ok: true });
    expect(JSON.parse(hook.body)).toMatchObject({
      event: 'job.succeeded',
      data: { job: { status: 'succeeded', progress_step: 3 } },
    });
  });

  it('GRPO on a built-in task', async () => {
    const jobId = await createJob({
      algorithm: 'grpo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 4 } },
      steps: 2,
      checkpoint_every: 1,
    });
    await expectCompletedRun(jobId, 2, [1, 2]);
    await expectServedMetrics(jobId, 'grpo', ['reward_mean', 'kl', 'clip_fraction'], ['drift', 'l_sim']);
  });

  it('SFT on a dataset with completions', async () => {
    const datasetId = await uploadDataset('sums-sft', jsonl(true));
    const jobId = await createJob({
      algorithm: 'sft',
      model: { builtin: 'tiny-1m' },
      data: { dataset_id: datasetId },
      steps: 3,
      checkpoint_every: 0,
    });
    await expectCompletedRun(jobId, 3, [3]);
    await expectServedMetrics(jobId, 'sft', [], ['reward_mean', 'pass_rate', 'drift', 'kl']);
  });

  it('cancel reaches a running learner within a step', async () => {
    const jobId = await createJob({
      algorithm: 'grpo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
      steps: 200,
      checkpoint_every: 0,
    });
    await waitFor(() => eventsOf(jobId, 'job.metrics').length >= 1, 'first step', 60_000);
    const res = await api.request('POST', `/v1/jobs/${jobId}/cancel`, { token: project.token });
    expect(res.body.status).toBe('cancelling');
    const stepAtCancel = eventsOf(jobId, 'job.metrics').length;
    await waitFor(() => statusSeen(jobId, 'cancelled'), 'cancelled', 30_000);
    const row = await jobRow(jobId);
    expect(row).toMatchObject({ status: 'cancelled', stop_requested: null });
    expect(row.finished_at).not.toBeNull();
    const steps = (await stepCounts(jobId)).map((r) => r.step);
    // Stopped at the next step boundary: at most one step after the request was seen, far from 200.
    expect(steps.length).toBeLessThanOrEqual(stepAtCancel + 2);
    expect(steps).toEqual(Array.from({ length: steps.length }, (_, i) => i + 1));
    // The stop wrote a checkpoint of the step it stopped at, so a retry resumes there.
    const cps = await api.app.get(CheckpointStore).list(jobId);
    expect(cps.map((c) => c.step)).toEqual([steps.length]);
  });

  it('pause checkpoints and frees the worker; resume continues from that checkpoint to the end', async () => {
    const jobId = await createJob({
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
      steps: 5,
      checkpoint_every: 0,
    });
    await waitFor(() => eventsOf(jobId, 'job.metrics').length >= 1, 'first step', 60_000);
    const res = await api.request('POST', `/v1/jobs/${jobId}/pause`, { token: project.token });
    expect(res.status).toBe(200);
    await waitFor(() => statusSeen(jobId, 'paused'), 'paused', 30_000);
    const paused = await jobRow(jobId);
    expect(paused.status).toBe('paused');
    const pausedAt = paused.progress_step as number;
    expect(pausedAt).toBeGreaterThanOrEqual(1);
    expect(pausedAt).toBeLessThan(5);
    expect((await api.app.get(CheckpointStore).list(jobId)).map((c) => c.step)).toEqual([pausedAt]);

    const resumed = await api.request('POST', `/v1/jobs/${jobId}/resume`, { token: project.token });
    expect(resumed.body.status).toBe('queued');
    await waitFor(() => statusSeen(jobId, 'succeeded'), 'succeeded after resume', 60_000);
    const row = await jobRow(jobId);
    expect(row).toMatchObject({ status: 'succeeded', attempts: 2, progress_step: 5 });
    expect(await stepCounts(jobId)).toEqual([1, 2, 3, 4, 5].map((step) => ({ step, n: 1 })));
    const codes = eventsOf(jobId, 'job.event').map((e) => e.payload.code);
    expect(codes).toContain('resumed');
  });
});
