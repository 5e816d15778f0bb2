import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeQwenShapedDir } from '../../src/learner/data/qwen-model-dir.js';
import { loadPretrained } from '../../src/learner/model/pretrained.js';
import { readSafetensors } from '../../src/learner/model/safetensors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  waitFor,
  type WorkerProcess,
} from './helpers/runtime.js';

/**
 * A service job on a Hugging Face model as users bring one: a Qwen2-shaped directory with the real Qwen3 byte-level
 * BPE tokenizer, registered by path; MATH train rows uploaded as they are in ../shared/datasets; POPO with LoRA
 * under the authors' qwen_math prompt. It runs 10 steps on a real worker, checkpoints, survives a SIGKILL of that
 * worker (a second one resumes from the checkpoint, every step's metrics exactly once, θ rebuilt from the registered
 * base the checkpoint names), and the result downloads as a PEFT adapter and as a merged model, which loads.
 */

const MATH_TRAIN = join(import.meta.dirname, '../../../shared/datasets/deepscaler_train_math.jsonl');
const prefix = `popo-test-qwen-${randomBytes(4).toString('hex')}`;
let db: TestDatabase;
let api: RuntimeApi;
let project: { projectId: string; token: string };
let roots: string;
let modelId: string;
let datasetId: string;
let problems: string[];
const workers: WorkerProcess[] = [];

const worker = (id: string) => {
  const w = spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: id,
    POPO_WORKER_DEVICES: '1',
  });
  workers.push(w);
  return w;
};

beforeAll(async () => {
  db = await createTestDatabase();
  roots = mkdtempSync(join(tmpdir(), 'popo-qwen-e2e-'));
  api = await startRuntimeApi({ db, prefix, env: { POPO_MODEL_ROOTS: roots } });
  project = await api.createProject('qwen');
  // Qwen2.5-Math base-like: EOS <|endoftext|>, <|im_end|> a separate end of turn.
  const dir = await writeQwenShapedDir(join(roots, 'qwen2-tiny'), { eosToken: '<|endoftext|>' });
  const model = await api.request('POST', '/v1/models', {
    token: project.token,
    json: { name: 'qwen2-tiny', path: dir },
  });
  expect(model.status, JSON.stringify(model.body)).toBe(201);
  modelId = model.body.id;
  // The shortest MATH train problems, rows exactly as the file has them (id, problem, answer, source, extras).
  const rows = readFileSync(MATH_TRAIN, 'utf8').split('\n').filter(Boolean);
  const short = rows.sort((a, b) => a.length - b.length).slice(0, 16);
  problems = short.map((r) => (JSON.parse(r) as { problem: string }).problem);
  const ds = await api.request('POST', '/v1/datasets?name=math-train-short', {
    token: project.token,
    body: short.join('\n') + '\n',
    headers: { 'content-type': 'application/x-ndjson' },
  });
  expect(ds.status, JSON.stringify(ds.body)).toBe(201);
  datasetId = ds.body.id;
});

afterAll(async () => {
  for (const w of workers) await w.stop('SIGKILL');
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
  if (roots) rmSync(roots, { recursive: true, force: true });
});

describe('a Qwen2-shaped HF model through the service', () => {
  it('POPO + LoRA under qwen_math: 10 steps, SIGKILL resume, PEFT and merged exports', async () => {
    const first = worker('qwen-w1');
    await first.ready;
    const created = await api.request('POST', '/v1/jobs', {
      token: project.token,
      json: {
        algorithm: 'popo',
        name: 'qwen-lora',
        seed: 1,
        steps: 10,
        checkpoint_every: 2,
        eval_every: 0,
        model: { id: modelId },
        data: { dataset_id: datasetId, prompt_template: 'qwen_math' },
        sampling: { group_size: 2, prompts_per_step: 2, max_new_tokens: 6 },
        // What the creation-time memory check asks for here: a 151k vocabulary's logits, one sequence at a time.
        optimizer: { lr: 0.001, micro_batch_size: 1 },
        lora: { rank: 4, alpha: 8, target_modules: ['q_proj', 'v_proj', 'down_proj'] },
        eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const job = async () => (await api.request('GET', `/v1/jobs/${id}`, { token: project.token })).body;
    const checkpoints = async () =>
      (await api.request('GET', `/v1/jobs/${id}/checkpoints`, { token: project.token })).body as {
        step: number;
        size_bytes: number;
      }[];

    // Past its first checkpoint, the worker dies with no chance to save anything.
    await waitFor(
      async () => (await checkpoints()).length > 0 && (await job()).progress_step >= 3,
      'a checkpoint',
      240_000,
    );
    await first.stop('SIGKILL');
    const second = worker('qwen-w2');
    await second.ready;
    await waitFor(
      async () => ['succeeded', 'failed'].includes((await job()).status),
      'the resumed job',
      300_000,
    );
    const done = await job();
    expect(done, JSON.stringify(done)).toMatchObject({
      status: 'succeeded',
      progress_step: 10,
      worker_id: 'qwen-w2',
    });
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    const metrics = await api.request('GET', `/v1/jobs/${id}/metrics?limit=100`, { token: project.token });
    expect(metrics.body.items.map((m: { step: number }) => m.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // The checkpoints name the registered base instead of holding it: the 38.9 MB model is in none of them
    // (adapters, ξ's, the predictor and moments: under 1 MB), and the resume above rebuilt θ from the directory.
    const modelBytes = statSync(join(roots, 'qwen2-tiny', 'model.safetensors')).size;
    const sizes = (await checkpoints()).map((c) => c.size_bytes);
    expect(sizes.length).toBeGreaterThan(0);
    for (const size of sizes) expect(size).toBeLessThan(modelBytes / 20);
    // Completions are stored per problem (the rendered qwen_math chat is the worker's business).
    expect(done.config.data.prompt_template).toBe('qwen_math');
    const samples = await api.request('GET', `/v1/jobs/${id}/completions?limit=5`, { token: project.token });
    expect(samples.body.items.length).toBeGreaterThan(0);
    expect(problems).toContain(samples.body.items[0].prompt);

    const out = mkdtempSync(join(roots, 'out-'));
    const fetchTar = async (path: string) => {
      const res = await fetch(`${api.baseUrl}/v1/jobs/${id}/checkpoints/latest/${path}`, {
        headers: { authorization: `Bearer ${project.token}` },
      });
      expect(res.status, path).toBe(200);
      const to = mkdtempSync(join(out, `${path}-`));
      await pipeline(Readable.fromWeb(res.body as never), tar.extract({ cwd: to }));
      return to;
    };
    const adapter = await fetchTar('adapter');
    expect(readdirSync(adapter)).toEqual(
      expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors']),
    );
    const peft = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
    expect(peft).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8 });
    const names = [...readSafetensors(readFileSync(join(adapter, 'adapter_model.safetensors'))).keys()];
    expect(names).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(names).toContain('base_model.model.model.layers.0.mlp.down_proj.lora_B.weight');
    const merged = await fetchTar('model');
    expect(readdirSync(merged)).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));
    const policy = await loadPretrained(merged);
    expect(policy.config.architectures).toEqual(['Qwen2ForCausalLM']);
    policy.dispose();
  }, 600_000);
});
