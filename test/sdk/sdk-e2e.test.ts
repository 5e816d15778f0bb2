import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPopoClient,
  type CreateJobRequest,
  type JobStatus,
  PopoApiError,
  type PopoClient,
} from '../../client/sdk/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { DIST_CLI } from '../helpers/dist.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  type WorkerProcess,
} from '../runtime/helpers/runtime.js';

/**
 * The SDK and the `popo jobs` CLI against the real service: API in this process, a real worker process, Postgres
 * and Redis. Tiny runs (tiny-1m, 2–3 steps, 4 tokens) keep each job to seconds.
 */

let db: TestDatabase;
let api: RuntimeApi;
let worker: WorkerProcess;
let client: PopoClient;
let token: string;
let dir: string;
const prefix = `popo-test-sdk-${randomBytes(4).toString('hex')}`;

const SMALL = {
  seed: 3,
  sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
  optimizer: { lr: 0.001 },
  eval: { n: 1, k: 1, temperature: 0, max_examples: 4 },
} satisfies Partial<CreateJobRequest>;

const TASK = { name: 'add', difficulty: 1, n_train: 20, n_test: 2 };

const rows = Array.from({ length: 12 }, (_, i) => ({
  problem: `${i % 5}+${(i * 3) % 5}=`,
  answer: String((i % 5) + ((i * 3) % 5)),
}));
const jsonl = rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'popo-sdk-'));
  db = await createTestDatabase();
  api = await startRuntimeApi({ db, prefix });
  token = (await api.createProject('sdk')).token;
  worker = spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: 'sdk-worker-1',
    POPO_WORKER_DEVICES: 'cpu',
  });
  client = createPopoClient({ baseUrl: api.baseUrl, token });
  await worker.ready;
});

afterAll(async () => {
  const code = await worker?.stop('SIGTERM');
  if (code !== 0 && code !== null) console.log(worker.output());
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Runs the real CLI entry, compiled, and collects its output. */
function cli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [DIST_CLI, ...args], {
    env: { ...process.env, POPO_URL: api.baseUrl, POPO_API_KEY: token, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

describe('SDK against the real service', () => {
  it('uploads a dataset, runs a POPO job to the end, reads metrics and downloads the model', async () => {
    const file = join(dir, 'sums.jsonl');
    await writeFile(file, jsonl);
    const dataset = await client.datasets.upload({ name: 'sums', file });
    expect(dataset).toMatchObject({ name: 'sums', row_count: 12 });

    const body: CreateJobRequest = {
      ...SMALL,
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { dataset_id: dataset.id, reward: 'exact' },
      steps: 3,
      checkpoint_every: 2,
    };
    const job = await client.jobs.create(body, { idempotencyKey: 'sdk-first' });
    expect(job.status).toBe('queued');
    // The same key returns the same job rather than a second one.
    expect((await client.jobs.create(body, { idempotencyKey: 'sdk-first' })).id).toBe(job.id);

    const seenSteps: number[] = [];
    const statuses: JobStatus[] = [];
    const done = await client.jobs.waitFor(job.id, {
      intervalMs: 100,
      timeoutMs: 60_000,
      onStatus: (j) => void statuses.push(j.status),
      onMetrics: (points) => void seenSteps.push(...points.map((p) => p.step)),
    });
    expect(done).toMatchObject({ id: job.id, status: 'succeeded', progress_step: 3, error: null });
    expect(seenSteps).toEqual([1, 2, 3]);
    expect(statuses.at(-1)).toBe('succeeded');

    const metrics = await client.jobs.metrics(job.id, { fromStep: 2 });
    expect(metrics.items.map((p) => p.step)).toEqual([2, 3]);
    expect(metrics.items[0].values).toHaveProperty('loss');
    expect(metrics).toMatchObject({ total_steps: 3, last_step: 3 });

    expect((await client.checkpoints.list(job.id)).map((c) => c.step)).toEqual([2, 3]);
    const archive = join(dir, 'model.tar.gz');
    const got = await client.checkpoints.downloadModel(job.id, { step: 'latest', to: archive });
    expect(got).toMatchObject({ path: archive, step: 3 });
    expect(got.bytes).toBeGreaterThan(1000);
    const names: string[] = [];
    await tar.list({ file: archive, onReadEntry: (e) => void names.push(e.path) });
    expect(names).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));

    const blob = await client.checkpoints.download(job.id, { step: 2, to: join(dir, 'step2.safetensors') });
    const [stored] = await db.query<{ sha256: string }>(
      'SELECT sha256 FROM checkpoints WHERE job_id = $1 AND step = 2',
      [job.id],
    );
    expect(blob).toMatchObject({ step: 2, sha256: stored.sha256 });

    // A finished job cannot be cancelled: the state error comes through with its code.
    await expect(client.jobs.cancel(job.id)).rejects.toMatchObject({ status: 409, code: 'invalid_state' });
  });

  it('bad requests surface as PopoApiError naming the field', async () => {
    const err = await client.jobs
      .create({ algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { task: TASK }, popo: { tau: 1.5 } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PopoApiError);
    expect(err).toMatchObject({ status: 400, code: 'validation_failed', field: 'popo.tau' });
    expect((err as PopoApiError).details).toHaveLength(1);

    const bad = await client.datasets
      .upload({ name: 'bad', jsonl: '{"problem":"1+1=","answer":"2"}\n{"problem":"2+2="}\n' })
      .catch((e: unknown) => e);
    expect(bad).toMatchObject({ status: 400, code: 'validation_failed' });
    expect((bad as PopoApiError).details.map((d) => d.field)).toEqual(['line 2.answer']);

    await expect(client.jobs.get(randomUUID())).rejects.toMatchObject({ status: 404, code: 'not_found' });
    const stranger = createPopoClient({ baseUrl: api.baseUrl, token: 'popo_not-a-key' });
    await expect(stranger.jobs.list()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });
});

describe('popo jobs CLI', () => {
  it('submit --wait prints the id, follows the job and exits 0; metrics --from prints JSON lines', async () => {
    const config = join(dir, 'job.yaml');
    await writeFile(
      config,
      [
        'algorithm: grpo',
        'model: { builtin: tiny-1m }',
        'data: { task: { name: add, difficulty: 1, n_train: 20, n_test: 2 } }',
        'steps: 2',
        'checkpoint_every: 0',
        `sampling: ${JSON.stringify(SMALL.sampling)}`,
        `optimizer: ${JSON.stringify(SMALL.optimizer)}`,
        `eval: ${JSON.stringify(SMALL.eval)}`,
      ].join('\n'),
    );
    const run = await cli([
      'jobs',
      'submit',
      '--config',
      config,
      '--set',
      'seed=5',
      '--wait',
      '--interval',
      '200',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const [id, outcome] = run.stdout.trim().split('\n');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(outcome).toBe(`${id} succeeded step 2/2`);
    expect(run.stderr).toContain('status: succeeded');
    const [row] = await db.query<{ kind: string; config: { seed: number } }>(
      'SELECT kind, config FROM jobs WHERE id = $1',
      [id],
    );
    expect(row).toMatchObject({ kind: 'grpo', config: { seed: 5 } });

    const metrics = await cli(['jobs', 'metrics', id, '--from', '2']);
    expect(metrics.code, metrics.stderr).toBe(0);
    const lines = metrics.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.step)).toEqual([2]);
    expect(lines[0]).toHaveProperty('loss');
  });

  it('a refused submit exits 2 and names the field and the reason', async () => {
    const config = join(dir, 'bad.json');
    await writeFile(
      config,
      JSON.stringify({ algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { task: TASK } }),
    );
    const run = await cli(['jobs', 'submit', '--config', config, '--set', 'popo.tau=2']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/validation_failed \(400\)/);
    expect(run.stderr).toMatch(/^ {2}popo\.tau: must be/m);

    const noKey = await cli(['jobs', 'status', randomUUID()], { POPO_API_KEY: '' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('POPO_API_KEY');
  });
});
