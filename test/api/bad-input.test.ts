import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../helpers/api.js';
import { JobReconciler } from '../../src/modules/jobs/reconciler.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

let db: TestDatabase;
let api: TestApi;
const queue = new RecordingQueue();
let a: { projectId: string; token: string };
let b: { projectId: string; token: string };
let datasetA: string;
let datasetB: string;
let jobB: string;
let modelRoot: string;

const JSON_LIMIT = 16 * 1024;
const UUID0 = '00000000-0000-4000-8000-000000000000';
const ndjson = { 'content-type': 'application/x-ndjson' };

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({ db, queue, env: { MAX_JSON_BODY_BYTES: String(JSON_LIMIT) } });
  a = await api.createProject('a');
  b = await api.createProject('b');
  const up = (token: string) =>
    api.request('POST', '/v1/datasets?name=d', {
      token,
      body: '{"problem":"1+1","answer":"2"}',
      headers: ndjson,
    });
  datasetA = (await up(a.token)).body.id;
  datasetB = (await up(b.token)).body.id;
  jobB = (
    await api.request('POST', '/v1/jobs', {
      token: b.token,
      json: { algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { dataset_id: datasetB } },
    })
  ).body.id;
  modelRoot = api.config.modelRoots[0];
  await mkdir(join(modelRoot, 'no-config'), { recursive: true });
  await writeFile(join(modelRoot, 'no-config', 'model.safetensors'), 'x');
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

interface Case {
  name: string;
  send: () => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  code: string;
  /** A detail that must be present: the field and a pattern for its reason. */
  field?: string;
  reason?: RegExp;
  /** Pattern the message must match (for errors without field details). */
  message?: RegExp;
}

// Bodies are built when a case runs (not when the table is built), since the ids come from beforeAll.
const job = (body: () => Record<string, unknown>, headers?: Record<string, string>) => () =>
  api.request('POST', '/v1/jobs', { token: a.token, json: body(), headers });
const validJob = () => ({ algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { dataset_id: datasetA } });
const withJob = (patch: Record<string, unknown>) => job(() => ({ ...validJob(), ...patch }));
const dataset =
  (body: string, query = '?name=x', headers = ndjson) =>
  () =>
    api.request('POST', `/v1/datasets${query}`, { token: a.token, body, headers });
const get = (path: string) => () => api.request('GET', path, { token: a.token });

const CASES: Case[] = [
  // auth
  {
    name: 'no Authorization header',
    send: () => api.request('GET', '/v1/jobs'),
    status: 401,
    code: 'unauthorized',
    message: /missing Authorization/,
  },
  {
    name: 'unknown bearer token',
    send: () => api.request('GET', '/v1/jobs', { token: 'popo_nope' }),
    status: 401,
    code: 'unauthorized',
    message: /invalid or revoked/,
  },
  {
    name: 'non-Bearer scheme',
    send: () => api.request('GET', '/v1/jobs', { headers: { authorization: 'Basic dXNlcjpwYXNz' } }),
    status: 401,
    code: 'unauthorized',
    message: /expected "Bearer/,
  },
  {
    name: 'project key on an admin route',
    send: () => api.request('POST', '/v1/projects', { token: a.token, json: { name: 'x' } }),
    status: 403,
    code: 'forbidden',
    message: /admin key/,
  },
  {
    name: 'admin key on a project route',
    send: () => api.request('POST', '/v1/jobs', { token: TEST_ADMIN_KEY, json: validJob() }),
    status: 403,
    code: 'forbidden',
    message: /project API key/,
  },
  // projects
  {
    name: 'project without a name',
    send: () => api.request('POST', '/v1/projects', { token: TEST_ADMIN_KEY, json: {} }),
    status: 400,
    code: 'validation_failed',
    field: 'name',
    reason: /^is required$/,
  },
  {
    name: 'key for a project that does not exist',
    send: () =>
      api.request('POST', `/v1/projects/${UUID0}/keys`, { token: TEST_ADMIN_KEY, json: { name: 'k' } }),
    status: 404,
    code: 'not_found',
    message: /project/,
  },
  {
    name: 'project id that is not a UUID',
    send: () => api.request('POST', '/v1/projects/abc/keys', { token: TEST_ADMIN_KEY, json: { name: 'k' } }),
    status: 400,
    code: 'validation_failed',
    field: 'projectId',
    reason: /UUID/,
  },
  // job body: syntax and size
  {
    name: 'malformed JSON',
    send: () =>
      api.request('POST', '/v1/jobs', {
        token: a.token,
        body: '{"kind": "popo",',
        headers: { 'content-type': 'application/json' },
      }),
    status: 400,
    code: 'malformed_json',
    message: /malformed JSON/,
  },
  {
    name: 'oversized JSON body',
    send: withJob({ name: 'x'.repeat(JSON_LIMIT) }),
    status: 413,
    code: 'payload_too_large',
    message: new RegExp(String(JSON_LIMIT)),
  },
  // job body: fields
  {
    name: 'checkpoint without its job id',
    send: withJob({ from_checkpoint: { step: 3 } }),
    status: 400,
    code: 'validation_failed',
    field: 'from_checkpoint.job_id',
    reason: /^is required$/,
  },
  {
    name: 'unknown algorithm',
    send: withJob({ algorithm: 'ppo' }),
    status: 400,
    code: 'validation_failed',
    field: 'algorithm',
    reason: /one of/,
  },
  {
    name: 'unknown mode',
    send: withJob({ mode: 'train-and-eval' }),
    status: 400,
    code: 'validation_failed',
    field: 'mode',
    reason: /one of: train, eval/,
  },
  {
    name: 'tau = 1',
    send: withJob({ popo: { tau: 1 } }),
    status: 400,
    code: 'validation_failed',
    field: 'popo.tau',
    reason: /^must be a number > 0 and < 1$/,
  },
  {
    name: 'tau = 0',
    send: withJob({ popo: { tau: 0 } }),
    status: 400,
    code: 'validation_failed',
    field: 'popo.tau',
    reason: /> 0 and < 1/,
  },
  {
    name: 'negative alpha',
    send: withJob({ popo: { alpha: -0.1 } }),
    status: 400,
    code: 'validation_failed',
    field: 'popo.alpha',
    reason: />= 0/,
  },
  {
    name: 'beta as a string',
    send: withJob({ popo: { beta: '0.1' } }),
    status: 400,
    code: 'validation_failed',
    field: 'popo.beta',
    reason: /must be a number >= 0/,
  },
  {
    name: 'group size 1',
    send: withJob({ sampling: { group_size: 1 } }),
    status: 400,
    code: 'validation_failed',
    field: 'sampling.group_size',
    reason: /integer >= 2/,
  },
  {
    name: 'fractional group size',
    send: withJob({ sampling: { group_size: 2.5 } }),
    status: 400,
    code: 'validation_failed',
    field: 'sampling.group_size',
    reason: /integer/,
  },
  {
    name: 'lr = 0',
    send: withJob({ optimizer: { lr: 0 } }),
    status: 400,
    code: 'validation_failed',
    field: 'optimizer.lr',
    reason: /> 0/,
  },
  {
    name: 'steps = 0',
    send: withJob({ steps: 0 }),
    status: 400,
    code: 'validation_failed',
    field: 'steps',
    reason: /integer >= 1/,
  },
  {
    name: 'negative priority',
    send: withJob({ priority: -1 }),
    status: 400,
    code: 'validation_failed',
    field: 'priority',
    reason: />= 0/,
  },
  {
    name: 'unknown top-level field',
    send: withJob({ learning_rate: 0.1 }),
    status: 400,
    code: 'validation_failed',
    field: 'learning_rate',
    reason: /not a known field/,
  },
  {
    name: 'unknown nested field',
    send: withJob({ popo: { gamma: 1 } }),
    status: 400,
    code: 'validation_failed',
    field: 'popo.gamma',
    reason: /not a known field/,
  },
  {
    name: 'section that is not an object',
    send: withJob({ popo: 'fast' }),
    status: 400,
    code: 'validation_failed',
    field: 'popo',
    reason: /must be an object/,
  },
  {
    name: 'eval.k > eval.n',
    send: withJob({ eval: { n: 2, k: 4 } }),
    status: 400,
    code: 'validation_failed',
    field: 'eval.k',
    reason: /<= eval.n/,
  },
  {
    name: 'webhook with a non-http scheme',
    send: withJob({ webhook_url: 'ftp://example.com/hook' }),
    status: 400,
    code: 'validation_failed',
    field: 'webhook_url',
    reason: /http\(s\) URL/,
  },
  {
    name: 'bad Idempotency-Key',
    send: job(validJob, { 'idempotency-key': 'has spaces in it' }),
    status: 400,
    code: 'validation_failed',
    field: 'Idempotency-Key',
    reason: /visible ASCII/,
  },
  {
    name: 'grpo.epsilon_high below epsilon (the trainer`s own rule)',
    send: withJob({ algorithm: 'grpo', grpo: { epsilon: 0.3, epsilon_high: 0.2 } }),
    status: 400,
    code: 'validation_failed',
    field: 'grpo.epsilon_high',
    reason: /must be >= grpo.epsilon/,
  },
  {
    name: 'task difficulty out of range',
    send: job(() => ({
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 11, n_train: 5, n_test: 1 } },
    })),
    status: 400,
    code: 'validation_failed',
    field: 'data.task.difficulty',
    reason: /integer >= 1 and <= 10/,
  },
  // job body: references
  {
    name: 'unknown built-in model',
    send: withJob({ model: { builtin: 'gpt-5' } }),
    status: 400,
    code: 'validation_failed',
    field: 'model.builtin',
    reason: /unknown built-in model; one of: .*tiny-1m/,
  },
  {
    name: 'unknown model id',
    send: withJob({ model: { id: UUID0 } }),
    status: 400,
    code: 'validation_failed',
    field: 'model.id',
    reason: /no such model/,
  },
  {
    name: 'both builtin and id',
    send: withJob({ model: { builtin: 'tiny-1m', id: UUID0 } }),
    status: 400,
    code: 'validation_failed',
    field: 'model',
    reason: /exactly one/,
  },
  {
    name: 'unknown built-in task',
    send: withJob({
      data: { task: { name: 'calculus', difficulty: 1, n_train: 10, n_test: 2 } },
    }),
    status: 400,
    code: 'validation_failed',
    field: 'data.task.name',
    reason: /unknown task "calculus" \(built-in: add, mul, linear, count/,
  },
  {
    name: 'task difficulty above the task maximum',
    send: withJob({ data: { task: { name: 'add', difficulty: 7, n_train: 10, n_test: 2 } } }),
    status: 400,
    code: 'validation_failed',
    field: 'data.task.difficulty',
    reason: /must be <= 4/,
  },
  {
    name: 'unknown dataset',
    send: withJob({ data: { dataset_id: UUID0 } }),
    status: 400,
    code: 'validation_failed',
    field: 'data.dataset_id',
    reason: /no such dataset in this project/,
  },
  {
    name: 'another project`s dataset',
    send: () => withJob({ data: { dataset_id: datasetB } })(),
    status: 400,
    code: 'validation_failed',
    field: 'data.dataset_id',
    reason: /no such dataset in this project/,
  },
  {
    name: 'dataset id not a UUID',
    send: withJob({ data: { dataset_id: '42' } }),
    status: 400,
    code: 'validation_failed',
    field: 'data.dataset_id',
    reason: /UUID/,
  },
  {
    name: 'neither dataset nor task',
    send: job(() => ({ algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { reward: 'math' } })),
    status: 400,
    code: 'validation_failed',
    field: 'data',
    reason: /must name a data source: task or dataset_id/,
  },
  {
    name: 'both a dataset and a task',
    send: withJob({ data: { dataset_id: UUID0, task: { name: 'add' } } }),
    status: 400,
    code: 'validation_failed',
    field: 'data',
    reason: /one data source/,
  },
  {
    name: 'a local data file (the service takes a dataset id)',
    send: withJob({ data: { train_file: 'train.jsonl' } }),
    status: 400,
    code: 'validation_failed',
    field: 'data.train_file',
    reason: /not a known field/,
  },
  {
    name: 'a local model path (the service takes a model id)',
    send: withJob({ model: { path: '/models/x' } }),
    status: 400,
    code: 'validation_failed',
    field: 'model.path',
    reason: /not a known field/,
  },
  // job body: checks that used to pass creation and fail on the worker
  {
    name: 'more training problems than the task has (add:1 has 80)',
    send: withJob({ data: { task: { name: 'add', difficulty: 1, n_train: 500, n_test: 10 } } }),
    status: 400,
    code: 'validation_failed',
    field: 'data.task.n_train',
    reason: /must be <= 80: task add at difficulty 1 has only 80 distinct train problems/,
  },
  {
    name: 'more held-out problems than the task has',
    send: withJob({ data: { task: { name: 'add', difficulty: 1, n_train: 10, n_test: 50 } } }),
    status: 400,
    code: 'validation_failed',
    field: 'data.task.n_test',
    reason: /has only 20 distinct test problems/,
  },
  {
    name: 'completions that cannot fit the built-in model`s context',
    send: withJob({ sampling: { max_new_tokens: 1024 } }),
    status: 400,
    code: 'validation_failed',
    field: 'sampling.max_new_tokens',
    reason: /exceeds the model's max_position_embeddings \(1024\)/,
  },
  {
    name: 'a step whose backward pass cannot fit the wasm heap (the backend the API would run it on)',
    send: withJob({ sampling: { group_size: 256, prompts_per_step: 512 } }),
    status: 400,
    code: 'validation_failed',
    field: 'optimizer.micro_batch_size',
    reason:
      /needs about .* GiB at its peak \(training\), more than .*set optimizer\.micro_batch_size to at most \d+/,
  },
  {
    name: 'a step of 1024 × 4096 × ~1000 tokens (the per-job compute budget)',
    send: withJob({ sampling: { group_size: 1024, prompts_per_step: 4096, max_new_tokens: 900 } }),
    status: 400,
    code: 'validation_failed',
    field: 'sampling.prompts_per_step',
    reason: /one step would sample and train on [\d,]+ tokens .* over the limit of 16,777,216 per step/,
  },
  {
    name: 'checkpoint of another project`s job',
    send: job(() => ({ mode: 'eval', from_checkpoint: { job_id: jobB } })),
    status: 400,
    code: 'validation_failed',
    field: 'from_checkpoint.job_id',
    reason: /no such job in this project/,
  },
  // job paths and queries
  {
    name: 'job id that is not a UUID',
    send: get('/v1/jobs/123'),
    status: 400,
    code: 'validation_failed',
    field: 'id',
    reason: /UUID/,
  },
  {
    name: 'job that does not exist',
    send: get(`/v1/jobs/${UUID0}`),
    status: 404,
    code: 'not_found',
    message: /job/,
  },
  {
    name: 'another project`s job',
    send: () => api.request('GET', `/v1/jobs/${jobB}`, { token: a.token }),
    status: 404,
    code: 'not_found',
    message: /not found/,
  },
  {
    name: 'unknown status filter',
    send: get('/v1/jobs?status=done'),
    status: 400,
    code: 'validation_failed',
    field: 'status',
    reason: /one of/,
  },
  {
    name: 'limit 0',
    send: get('/v1/jobs?limit=0'),
    status: 400,
    code: 'validation_failed',
    field: 'limit',
    reason: /less than 1|1/,
  },
  {
    name: 'forged cursor',
    send: get('/v1/jobs?cursor=Zm9v'),
    status: 400,
    code: 'validation_failed',
    field: 'cursor',
    reason: /not a cursor/,
  },
  {
    name: 'negative fromStep',
    send: () => api.request('GET', `/v1/jobs/${jobB}/metrics?fromStep=-1`, { token: b.token }),
    status: 400,
    code: 'validation_failed',
    field: 'fromStep',
    reason: /0/,
  },
  // datasets
  {
    name: 'dataset as application/json',
    send: dataset('{"problem":"a","answer":"b"}', '?name=x', { 'content-type': 'application/json' }),
    status: 415,
    code: 'unsupported_media_type',
    message: /application\/x-ndjson/,
  },
  {
    name: 'dataset without a name',
    send: dataset('{"problem":"a","answer":"b"}', ''),
    status: 400,
    code: 'validation_failed',
    field: 'name',
    reason: /^is required$/,
  },
  {
    name: 'line missing its answer',
    send: dataset('{"problem":"a"}'),
    status: 400,
    code: 'validation_failed',
    field: 'line 1.answer',
    reason: /is required/,
  },
  {
    name: 'line that is an array',
    send: dataset('{"problem":"a","answer":"b"}\n[1,2]'),
    status: 400,
    code: 'validation_failed',
    field: 'line 2',
    reason: /JSON object/,
  },
  {
    name: 'line that is not JSON',
    send: dataset('{"problem":"a","answer":"b"}\n\n{problem: a}'),
    status: 400,
    code: 'validation_failed',
    field: 'line 3',
    reason: /not valid JSON/,
  },
  {
    name: 'numeric problem',
    send: dataset('{"problem":7,"answer":"b"}'),
    status: 400,
    code: 'validation_failed',
    field: 'line 1.problem',
    reason: /non-empty string/,
  },
  {
    name: 'non-string completion',
    send: dataset('{"problem":"a","answer":"b","completion":{"x":1}}'),
    status: 400,
    code: 'validation_failed',
    field: 'line 1.completion',
    reason: /string/,
  },
  {
    name: 'empty dataset',
    send: dataset('\n\n'),
    status: 400,
    code: 'validation_failed',
    field: 'body',
    reason: /no rows/,
  },
  // models
  {
    name: 'relative model path',
    send: () => api.request('POST', '/v1/models', { token: a.token, json: { name: 'm', path: 'models/x' } }),
    status: 400,
    code: 'validation_failed',
    field: 'path',
    reason: /absolute/,
  },
  {
    name: 'model path outside the roots',
    send: () => api.request('POST', '/v1/models', { token: a.token, json: { name: 'm', path: '/tmp' } }),
    status: 400,
    code: 'validation_failed',
    field: 'path',
    reason: /model roots/,
  },
  {
    name: 'model dir without config.json',
    send: () =>
      api.request('POST', '/v1/models', {
        token: a.token,
        json: { name: 'm', path: join(modelRoot, 'no-config') },
      }),
    status: 400,
    code: 'validation_failed',
    field: 'path',
    reason: /no config.json/,
  },
  {
    name: 'model name with a slash',
    send: () => api.request('POST', '/v1/models', { token: a.token, json: { name: 'a/b', path: modelRoot } }),
    status: 400,
    code: 'validation_failed',
    field: 'name',
    reason: /letters, digits/,
  },
  {
    name: 'model archive that is not a tar',
    send: () =>
      api.request('POST', '/v1/models/upload?name=m', {
        token: a.token,
        body: 'definitely not a tarball',
        headers: { 'content-type': 'application/gzip' },
      }),
    status: 400,
    code: 'validation_failed',
    field: 'body',
    reason: /tar/,
  },
  // sweeps
  {
    name: 'grid over a non-hyperparameter',
    send: () =>
      api.request('POST', '/v1/sweeps', {
        token: a.token,
        json: { base: validJob(), grid: { 'model.builtin': ['tiny-1m'] } },
      }),
    status: 400,
    code: 'validation_failed',
    field: 'grid.model.builtin',
    reason: /not a hyperparameter path/,
  },
  {
    name: 'grid that is too large',
    send: () =>
      api.request('POST', '/v1/sweeps', {
        token: a.token,
        json: {
          base: validJob(),
          grid: {
            seed: Array.from({ length: 9 }, (_, i) => i),
            'popo.alpha': Array.from({ length: 9 }, (_, i) => i),
          },
        },
      }),
    status: 400,
    code: 'validation_failed',
    field: 'grid',
    reason: /expands to 81 jobs; the limit is 64/,
  },
  {
    name: 'grid entry that is not a list',
    send: () =>
      api.request('POST', '/v1/sweeps', { token: a.token, json: { base: validJob(), grid: { seed: 3 } } }),
    status: 400,
    code: 'validation_failed',
    field: 'grid.seed',
    reason: /non-empty array/,
  },
  {
    name: 'grid value that breaks a trainer rule',
    send: () =>
      api.request('POST', '/v1/sweeps', {
        token: a.token,
        json: {
          base: { ...validJob(), algorithm: 'grpo', grpo: { epsilon: 0.1 } },
          grid: { 'grpo.epsilon_high': [0.2, 0.05] },
        },
      }),
    status: 400,
    code: 'validation_failed',
    field: 'grid.grpo.epsilon_high[1]',
    reason: /^0.05 must be >= grpo.epsilon \(0.1\)$/,
  },
  {
    name: 'grid point (a combination of valid values) that breaks a trainer rule',
    send: () =>
      api.request('POST', '/v1/sweeps', {
        token: a.token,
        json: {
          base: { ...validJob(), eval: { n: 4, k: 1 } },
          grid: { 'eval.n': [4, 1], 'eval.k': [4] },
        },
      }),
    status: 400,
    code: 'validation_failed',
    field: 'eval.k',
    reason: /must be <= eval.n \(1\) \(grid point eval.n=1 eval.k=4\)/,
  },
];

describe(`bad input (${CASES.length} cases): right status, a message naming the problem, nothing written`, () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const rowsBefore = await countRows(db);
    const enqueuedBefore = queue.enqueued.length;
    const res = await c.send();
    expect(res.status, JSON.stringify(res.body)).toBe(c.status);
    expect(res.body.error.code).toBe(c.code);
    expect(typeof res.body.error.message).toBe('string');
    if (c.field) {
      const detail = (res.body.error.details as { field: string; reason: string }[]).find(
        (d) => d.field === c.field,
      );
      expect(detail, JSON.stringify(res.body.error.details)).toBeDefined();
      if (c.reason) expect(detail!.reason).toMatch(c.reason);
      // The message repeats the field, so a client that only shows messages still says what is wrong.
      expect(res.body.error.message).toContain(c.field);
    }
    if (c.message) expect(res.body.error.message).toMatch(c.message);
    expect(await countRows(db)).toEqual(rowsBefore);
    expect(queue.enqueued.length).toBe(enqueuedBefore);
  });
});

describe('compute budget', () => {
  it('accepts a slow but possible job with a warning event estimating its step time', async () => {
    const res = await job(() => ({
      ...validJob(),
      model: { builtin: 'tiny-10m' },
      sampling: { group_size: 64, prompts_per_step: 64, max_new_tokens: 512 },
      // Small backward passes keep the memory check satisfied; the step is still hours of compute.
      optimizer: { micro_batch_size: 8 },
    }))();
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const events = await db.query<{ level: string; code: string; message: string }>(
      'SELECT level, code, message FROM job_events WHERE job_id = $1',
      [res.body.id],
    );
    expect(events).toContainEqual({
      level: 'warning',
      code: 'compute_budget',
      message: expect.stringMatching(/one step is estimated at ~\d+ s on one device slot/),
    });
  });
});

describe('queue outage', () => {
  it('keeps the job queued (Postgres is the truth), answers 201 at once, and the reconciler enqueues it later', async () => {
    queue.failWith = new Error('connect ECONNREFUSED 127.0.0.1:6379');
    try {
      const res = await withJob({ name: 'during outage' })();
      expect(res.status).toBe(201);
      const [row] = await db.query<{ id: string; status: string; error: string | null }>(
        "SELECT id, status, error FROM jobs WHERE name = 'during outage'",
      );
      expect(row).toMatchObject({ id: res.body.id, status: 'queued', error: null });
      const events = await db.query<{ code: string; message: string }>(
        'SELECT code, message FROM job_events WHERE job_id = $1',
        [row.id],
      );
      expect(events).toContainEqual(
        expect.objectContaining({ code: 'enqueue_deferred', message: expect.stringMatching(/ECONNREFUSED/) }),
      );
      expect(queue.enqueued.some((e) => e.jobId === row.id)).toBe(false);

      queue.failWith = undefined;
      const swept = await api.app.get(JobReconciler).fullPass();
      expect(swept.enqueued).toContain(row.id);
      expect(queue.enqueued.at(-1)?.jobId).toBe(row.id);
    } finally {
      queue.failWith = undefined;
    }
  });
});

describe('prompts that do not fit the model, counted at creation', () => {
  // tiny-1m: 1024 positions, one token per character plus BOS. With 100 new tokens a prompt may hold 924 tokens.
  const long = 'x'.repeat(1000);
  const fits = 'y'.repeat(900); // 901 tokens as it is; over the limit once a template wraps it
  let datasetId: string;
  beforeAll(async () => {
    const rows = [
      { problem: long, answer: '1' },
      { problem: long, answer: '1', id: 'long-2' },
      { problem: fits, answer: '1' },
      { problem: '1+1', answer: '2' },
      { problem: long, answer: '1', split: 'test', id: 'held-1' },
    ];
    const res = await api.request('POST', '/v1/datasets?name=long', {
      token: a.token,
      body: rows.map((r) => JSON.stringify(r)).join('\n'),
      headers: ndjson,
    });
    datasetId = res.body.id;
  });
  const create = (patch: Record<string, unknown>) =>
    api.request('POST', '/v1/jobs', {
      token: a.token,
      json: {
        algorithm: 'popo',
        model: { builtin: 'tiny-1m' },
        data: { dataset_id: datasetId, ...((patch.data as object) ?? {}) },
        sampling: { max_new_tokens: 100 },
        ...Object.fromEntries(Object.entries(patch).filter(([k]) => k !== 'data')),
      },
    });

  it('answers 400 naming data.overlong with the count, per split, before anything is written', async () => {
    const before = await db.query<{ n: string }>('SELECT count(*) AS n FROM jobs');
    const res = await create({});
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    const details = res.body.error.details as { field: string; reason: string }[];
    expect(details.map((d) => d.field)).toEqual(['data.overlong', 'data.overlong']);
    expect(details[0].reason).toMatch(
      /^training data: 2 of 4 prompts are longer than 924 tokens \(max_position_embeddings 1024 − max_new_tokens 100; longest 1001, e\.g\. "1", "long-2"\): set data\.overlong to skip or truncate_left/,
    );
    expect(details[1].reason).toMatch(/^held-out data: 1 of 1 prompts are longer than 924 tokens.*"held-1"/);
    const after = await db.query<{ n: string }>('SELECT count(*) AS n FROM jobs');
    expect(after[0].n).toBe(before[0].n);
  });

  it('counts the prompt as the template renders it, and the eval against its own max_new_tokens', async () => {
    const wrapped = await create({ data: { prompt_template: 'simple' } });
    expect(wrapped.status).toBe(400);
    expect(wrapped.body.error.details[0].reason).toMatch(/^training data: 3 of 4 prompts/);
    // A shorter eval completion makes room for the held-out row; the training rows still do not fit.
    const evalShort = await create({ eval: { max_new_tokens: 20 } });
    expect(evalShort.body.error.details).toEqual([
      expect.objectContaining({
        field: 'data.overlong',
        reason: expect.stringMatching(/^training data: 2 of 4/),
      }),
    ]);
  });

  it('accepts the same rows when data.overlong says to skip or cut them', async () => {
    for (const overlong of ['skip', 'truncate_left']) {
      // A small batch, so the peak-memory check (1000-token prompts) has nothing to say either.
      const res = await create({
        data: { overlong },
        sampling: { max_new_tokens: 100, group_size: 2, prompts_per_step: 2 },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
  });

  it('refuses an HTTP reward grader the workers may not reach, naming its field', async () => {
    const res = await create({
      data: { overlong: 'skip' },
      rewards: [{ type: 'math' }, { type: 'http', url: 'http://127.0.0.1:9/grade' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ field: 'rewards.1.url' })]);
  });
});
