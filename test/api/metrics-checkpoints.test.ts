import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { loadPretrained } from '../../src/learner/model/pretrained.js';
import { decodeCheckpoint } from '../../src/learner/trainer/checkpoint.js';
import { resolveConfig } from '../../src/learner/trainer/config.js';
import { writeTinyModelDir } from '../../src/learner/trainer/tiny-model-dir.js';
import { train } from '../../src/learner/trainer/train.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointCorruptError, CheckpointStore } from '../../src/modules/checkpoints/checkpoint-store.js';
import { MetricsService } from '../../src/modules/metrics/metrics.service.js';
import { JobRepository, SupersededError, type RunOwnership } from '../../src/repositories/job.repository.js';
import type { StepMetrics } from '../../src/learner/trainer/types.js';
import { zeroMetrics } from '../../src/learner/trainer/metrics.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

let db: TestDatabase;
let api: TestApi;
let token: string;
let jobId: string;
let metrics: MetricsService;
let store: CheckpointStore;

const CHUNK = 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function stepMetrics(step: number, reward: number): StepMetrics {
  return zeroMetrics(step, 'cpu', { reward_mean: reward });
}

/** Makes `workerId` the job's owner with a new attempt, as a worker's claim does; returns the run's fence. */
async function claimFor(id: string, workerId: string): Promise<RunOwnership> {
  const jobs = api.app.get(JobRepository);
  const job = await jobs.transaction((m) => jobs.startAttempt(m, id, workerId, 'cpu'));
  return { jobId: id, fence: job.attempts, workerId };
}

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({
    db,
    queue: new RecordingQueue(),
    env: { CHECKPOINT_CHUNK_BYTES: String(CHUNK) },
  });
  ({ token } = await api.createProject());
  const job = await api.request('POST', '/v1/jobs', {
    token,
    json: {
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 } },
    },
  });
  jobId = job.body.id;
  metrics = api.app.get(MetricsService);
  store = api.app.get(CheckpointStore);
  // A worker's run: the job claimed by one attempt, then every step recorded through the one write path.
  const own = await claimFor(jobId, 'w1');
  for (let step = 1; step <= 100; step++) await metrics.recordStep(own, stepMetrics(step, step / 100));
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

const get = (q: string) => api.request('GET', `/v1/jobs/${jobId}/metrics${q}`, { token });

describe('metrics', () => {
  it('pages by fromStep and limit', async () => {
    const res = await get('?fromStep=41&limit=5');
    expect(res.status).toBe(200);
    expect(res.body.items.map((m: { step: number }) => m.step)).toEqual([41, 42, 43, 44, 45]);
    expect(res.body.items[0].values.reward_mean).toBeCloseTo(0.41);
    expect(res.body).toMatchObject({ total_steps: 100, last_step: 100 });
  });

  it('downsamples with every=N (keeping the last step)', async () => {
    const res = await get('?every=30');
    expect(res.body.items.map((m: { step: number }) => m.step)).toEqual([30, 60, 90, 100]);
  });

  it('downsamples with points=N into bucket means', async () => {
    const res = await get('?points=4');
    expect(res.body.items).toHaveLength(4);
    const first = res.body.items[0];
    expect(first).toMatchObject({ step_from: 1, step: 25, count: 25 });
    // mean of 0.01 .. 0.25
    expect(first.values.reward_mean).toBeCloseTo(0.13, 10);
    expect(first.values.backend).toBe('cpu');
    expect(res.body.items.reduce((n: number, b: { count: number }) => n + b.count, 0)).toBe(100);
  });

  it('keeps the first report of a step; a resumed run drops the steps it redoes; a superseded run writes nothing', async () => {
    const { token: t } = await api.createProject('resume');
    const j = await api.request('POST', '/v1/jobs', {
      token: t,
      json: {
        algorithm: 'grpo',
        model: { builtin: 'tiny-1m' },
        data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 2 } },
      },
    });
    const first = await claimFor(j.body.id, 'w1');
    for (let s = 1; s <= 6; s++) expect(await metrics.recordStep(first, stepMetrics(s, 0))).toBe(true);
    // The same step reported again (a retried write) keeps the first values.
    expect(await metrics.recordStep(first, stepMetrics(4, 0.5))).toBe(false);
    // Another worker takes over and resumes from its step-4 checkpoint: steps 5 and 6 are redone.
    const second = await claimFor(j.body.id, 'w2');
    await expect(metrics.recordStep(first, stepMetrics(7, 9))).rejects.toThrow(SupersededError);
    await expect(metrics.dropAfter(first, 4)).rejects.toThrow(SupersededError);
    expect(await metrics.dropAfter(second, 4)).toBe(2);
    expect((await db.query('SELECT progress_step FROM jobs WHERE id = $1', [j.body.id]))[0]).toEqual({
      progress_step: 4,
    });
    for (let s = 5; s <= 6; s++) expect(await metrics.recordStep(second, stepMetrics(s, 1))).toBe(true);
    const rows = await db.query<{ step: number; r: number }>(
      `SELECT step, ("values"->>'reward_mean')::float AS r FROM metrics WHERE job_id = $1 ORDER BY step`,
      [j.body.id],
    );
    expect(rows).toEqual([
      { step: 1, r: 0 },
      { step: 2, r: 0 },
      { step: 3, r: 0 },
      { step: 4, r: 0 },
      { step: 5, r: 1 },
      { step: 6, r: 1 },
    ]);
  });

  it('refuses every and points together', async () => {
    const res = await get('?every=2&points=3');
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([
      { field: 'points', reason: 'give either every or points, not both' },
    ]);
  });
});

describe('checkpoints', () => {
  it('stores a blob in sha256-checked chunks and downloads it byte for byte', async () => {
    const bytes = new Uint8Array(randomBytes(CHUNK * 2 + 100));
    await store.save(jobId, { step: 10, bytes, sha256: sha(bytes) });
    const chunks = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM checkpoint_chunks c JOIN checkpoints k ON k.id = c.checkpoint_id WHERE k.job_id = $1 AND k.step = 10',
      [jobId],
    );
    expect(chunks[0].n).toBe(3);

    const list = await api.request('GET', `/v1/jobs/${jobId}/checkpoints`, { token });
    expect(list.body).toMatchObject([
      { step: 10, size_bytes: bytes.length, chunk_count: 3, sha256: sha(bytes) },
    ]);

    const res = await fetch(`${api.baseUrl}/v1/jobs/${jobId}/checkpoints/latest/download`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-checkpoint-sha256')).toBe(sha(bytes));
    const got = new Uint8Array(await res.arrayBuffer());
    expect(Buffer.compare(Buffer.from(got), Buffer.from(bytes))).toBe(0);
    expect((await store.loadLatest(jobId))?.step).toBe(10);
  });

  it('downloads the policy of a real training checkpoint as a Hugging Face model archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'popo-ckpt-'));
    const modelDir = await writeTinyModelDir(join(dir, 'base'));
    const run = await train(
      resolveConfig({
        algorithm: 'popo',
        steps: 1,
        backend: 'cpu',
        model: { path: modelDir },
        data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
        sampling: { group_size: 2, prompts_per_step: 2, max_new_tokens: 3 },
      }),
    );
    await store.save(jobId, run.final_checkpoint!);
    const res = await fetch(`${api.baseUrl}/v1/jobs/${jobId}/checkpoints/1/model`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    const out = join(dir, 'out');
    mkdirSync(out);
    await pipeline(Readable.fromWeb(res.body as never), tar.extract({ cwd: out }));
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer_config.json']);
    // The archive is the checkpoint's θ: same weights, loadable by the engine.
    const model = await loadPretrained(out);
    const theta = decodeCheckpoint(run.final_checkpoint!).policy!;
    const state = await model.stateDict();
    for (const [name, rec] of theta)
      expect(Array.from(state.get(name)!.data), name).toEqual(Array.from(rec.data));
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves a LoRA run's adapters as a PEFT archive and its policy merged into the registered base; /adapter of a full run is a 409", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'popo-ckpt-lora-'));
    // A registered model, as a job's base is: the checkpoint names this directory instead of holding its weights.
    const modelDir = await writeTinyModelDir(join(api.config.modelRoots[0], 'lora-base'));
    const registered = await api.request('POST', '/v1/models', {
      token,
      json: { name: 'lora-base', path: modelDir },
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const job = await api.request('POST', '/v1/jobs', {
      token,
      json: {
        algorithm: 'sft',
        model: { id: registered.body.id },
        data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
      },
    });
    expect(job.status, JSON.stringify(job.body)).toBe(201);
    const loraJob = job.body.id as string;
    const sft = (lora?: object) =>
      train(
        resolveConfig({
          algorithm: 'sft',
          steps: 1,
          backend: 'cpu',
          model: { path: modelDir },
          data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
          sft: { batch_size: 2 },
          optimizer: { lr: 0.05 },
          ...(lora ? { lora } : {}),
        }),
      );
    const withLora = (await sft({ rank: 2, target_modules: ['q_proj', 'down_proj'] })).final_checkpoint!;
    const full = (await sft()).final_checkpoint!;
    expect(decodeCheckpoint(withLora).policy).toBeUndefined();
    await store.save(loraJob, { ...withLora, step: 3 });
    await store.save(loraJob, { ...full, step: 4 });
    const fetchTar = async (path: string) => {
      const res = await fetch(`${api.baseUrl}/v1/jobs/${loraJob}/checkpoints/${path}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      if (res.status !== 200)
        return {
          status: res.status,
          body: (await res.json()) as { error: { code: string; message: string } },
        };
      const out = mkdtempSync(join(dir, 'out-'));
      await pipeline(Readable.fromWeb(res.body as never), tar.extract({ cwd: out }));
      return { status: 200, out, files: readdirSync(out).sort() };
    };
    const adapter = await fetchTar('3/adapter');
    expect(adapter.files).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
      'tokenizer_config.json',
    ]);
    const merged = await fetchTar('3/model');
    expect(merged.files).toEqual(['config.json', 'model.safetensors', 'tokenizer_config.json']);
    // The merged model differs from the base exactly where adapters sat.
    const base = await (await loadPretrained(modelDir)).stateDict();
    const model = await loadPretrained(merged.out!);
    const state = await model.stateDict();
    model.dispose();
    const changed = [...state]
      .filter(([n, r]) => r.data.some((x, i) => x !== base.get(n)!.data[i]))
      .map(([n]) => n);
    expect(changed.sort()).toEqual([
      'model.layers.0.mlp.down_proj.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.1.mlp.down_proj.weight',
      'model.layers.1.self_attn.q_proj.weight',
    ]);
    const refused = await fetchTar('4/adapter');
    expect(refused.status).toBe(409);
    expect(refused.body!.error.code).toBe('checkpoint_not_lora');

    // The base changed since the run (one bit of its weights): never merged into it, a 409 naming the model.
    const weights = join(modelDir, 'model.safetensors');
    const original = readFileSync(weights);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 1] ^= 1;
    writeFileSync(weights, flipped);
    const stale = await fetchTar('3/model');
    expect(stale.status).toBe(409);
    expect(stale.body!.error.code).toBe('base_model_changed');
    const message = stale.body!.error.message;
    expect(message).toContain(
      `checkpoint ${loraJob}@3: its base, the model "lora-base" (${registered.body.id})`,
    );
    expect(message).toContain('model.safetensors differs');
    // The adapters need no base.
    expect((await fetchTar('3/adapter')).status).toBe(200);
    rmSync(modelDir, { recursive: true });
    const missing = await fetchTar('3/model');
    expect(missing.status).toBe(409);
    expect(missing.body!.error.code).toBe('base_model_missing');
    expect(missing.body!.error.message).toContain('"lora-base"');
    rmSync(dir, { recursive: true, force: true });
  });

  it('replaces a checkpoint saved again for the same step', async () => {
    const a = new TextEncoder().encode('first');
    const b = new TextEncoder().encode('second version');
    await store.save(jobId, { step: 20, bytes: a, sha256: sha(a) });
    await store.save(jobId, { step: 20, bytes: b, sha256: sha(b) });
    const loaded = await store.loadLatest(jobId);
    expect(new TextDecoder().decode(loaded!.bytes)).toBe('second version');
    const rows = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM checkpoints WHERE job_id = $1 AND step = 20',
      [jobId],
    );
    expect(rows[0].n).toBe(1);
  });

  it('refuses to save bytes that do not match their declared sha256', async () => {
    const bytes = new TextEncoder().encode('abc');
    await expect(
      store.save(jobId, { step: 30, bytes, sha256: sha(new TextEncoder().encode('abd')) }),
    ).rejects.toThrow(/sha256 mismatch/);
  });

  it('detects a corrupt chunk on read: 500 checkpoint_corrupt and CheckpointCorruptError', async () => {
    const bytes = new Uint8Array(randomBytes(CHUNK * 3));
    const saved = await store.save(jobId, { step: 40, bytes, sha256: sha(bytes) });
    await db.query(
      `UPDATE checkpoint_chunks SET data = overlay(data placing '\\x00'::bytea from 5) WHERE checkpoint_id = $1 AND idx = 1`,
      [saved.id],
    );
    const res = await api.request('GET', `/v1/jobs/${jobId}/checkpoints/40/download`, { token });
    expect(res.status).toBe(500);
    expect(res.body.error.code).toBe('checkpoint_corrupt');
    expect(res.body.error.message).toMatch(/chunk 1 does not match its sha256/);
    await expect(store.loadById(saved.id)).rejects.toBeInstanceOf(CheckpointCorruptError);

    await db.query('DELETE FROM checkpoint_chunks WHERE checkpoint_id = $1 AND idx = 2', [saved.id]);
    const missing = await api.request('GET', `/v1/jobs/${jobId}/checkpoints/40/download`, { token });
    expect(missing.body.error.message).toMatch(/2 of 3 chunks present/);
  });

  it('answers 404 for a step without a checkpoint and 400 for a malformed step', async () => {
    const none = await api.request('GET', `/v1/jobs/${jobId}/checkpoints/999/download`, { token });
    expect(none.status).toBe(404);
    const bad = await api.request('GET', `/v1/jobs/${jobId}/checkpoints/-1/download`, { token });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details).toEqual([
      { field: 'step', reason: 'must be a non-negative integer or "latest"' },
    ]);
  });
});
