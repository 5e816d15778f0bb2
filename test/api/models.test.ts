import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create as tarCreate } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../src/learner/model/config.js';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

let db: TestDatabase;
let api: TestApi;
let token: string;
let scratch: string;

const ARCHIVE_LIMIT = 256 * 1024;
const hfConfig = { ...BUILTIN_MODELS['tiny-1m'], architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };

async function writeModelDir(dir: string, config: object = hfConfig) {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'model.safetensors'), Buffer.alloc(1000, 1));
}

async function tarGz(cwd: string, entries: string[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarCreate({ gzip: true, cwd, portable: true }, entries)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const upload = (name: string, body: Buffer, type = 'application/gzip') =>
  api.request('POST', `/v1/models/upload?name=${name}`, {
    token,
    body: new Uint8Array(body),
    headers: { 'content-type': type },
  });

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({
    db,
    queue: new RecordingQueue(),
    env: { MAX_MODEL_ARCHIVE_BYTES: String(ARCHIVE_LIMIT) },
  });
  ({ token } = await api.createProject());
  scratch = await mkdtemp(join(tmpdir(), 'popo-models-'));
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
  await rm(scratch, { recursive: true, force: true });
});

describe('models', () => {
  it('lists the built-in tiny models', async () => {
    const res = await api.request('GET', '/v1/models', { token });
    expect(res.status).toBe(200);
    expect(res.body.builtin.map((m: { name: string }) => m.name)).toEqual(Object.keys(BUILTIN_MODELS));
    const tiny = res.body.builtin.find((m: { name: string }) => m.name === 'tiny-1m');
    expect(tiny).toMatchObject({ architecture: 'LlamaForCausalLM', hidden_size: 128, vocab_size: 64 });
    expect(tiny.parameters).toBeGreaterThan(500_000);
    expect(res.body.items).toEqual([]);
  });

  it('registers an HF directory inside a model root, once per name', async () => {
    const dir = join(api.config.modelRoots[0], 'qwen-tiny');
    await writeModelDir(dir);
    const res = await api.request('POST', '/v1/models', { token, json: { name: 'qwen-tiny', path: dir } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      name: 'qwen-tiny',
      source: 'path',
      architecture: 'Qwen2ForCausalLM',
      size_bytes: expect.any(Number),
    });
    expect(res.body.hf_config.hidden_size).toBe(128);

    const dup = await api.request('POST', '/v1/models', { token, json: { name: 'qwen-tiny', path: dir } });
    expect(dup.status).toBe(409);
    expect(dup.body.error.code).toBe('model_exists');

    const job = await api.request('POST', '/v1/jobs', {
      token,
      json: {
        algorithm: 'popo',
        model: { id: res.body.id },
        data: { task: { name: 'add', difficulty: 1, n_train: 4, n_test: 1 } },
      },
    });
    expect(job.status).toBe(201);
    expect(job.body).toMatchObject({ model_id: res.body.id, model_builtin: null });
    const busy = await api.request('DELETE', `/v1/models/${res.body.id}`, { token });
    expect(busy.status).toBe(409);
  });

  it('refuses a directory whose config names an unsupported architecture', async () => {
    const dir = join(api.config.modelRoots[0], 'gpt2');
    await writeModelDir(dir, { ...hfConfig, architectures: ['GPT2LMHeadModel'], model_type: 'gpt2' });
    const res = await api.request('POST', '/v1/models', { token, json: { name: 'gpt2', path: dir } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({
      field: 'path',
      reason: expect.stringMatching(/unsupported config.json/),
    });
  });

  it('refuses a symlink that escapes the model roots', async () => {
    const outside = join(scratch, 'outside-model');
    await writeModelDir(outside);
    const link = join(api.config.modelRoots[0], 'sneaky');
    await symlink(outside, link);
    const res = await api.request('POST', '/v1/models', { token, json: { name: 'sneaky', path: link } });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({
      field: 'path',
      reason: expect.stringMatching(/model roots/),
    });
  });

  it('uploads a tar.gz with one top-level folder, extracts it under the data dir and registers it', async () => {
    await writeModelDir(join(scratch, 'pack', 'my-model'));
    const res = await upload('uploaded', await tarGz(join(scratch, 'pack'), ['my-model']));
    expect(res.status).toBe(201);
    expect(res.body.source).toBe('upload');
    expect(res.body.path.startsWith(join(api.dataDir, 'models', 'uploads'))).toBe(true);
    expect(JSON.parse(await readFile(join(res.body.path, 'config.json'), 'utf8')).model_type).toBe('qwen2');

    const del = await api.request('DELETE', `/v1/models/${res.body.id}`, { token });
    expect(del.status).toBe(204);
    await expect(stat(res.body.path)).rejects.toThrow(/ENOENT/);
  });

  it('skips links inside an archive and refuses one without config.json, leaving nothing behind', async () => {
    const dir = join(scratch, 'links');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.safetensors'), 'w');
    await symlink('/etc/passwd', join(dir, 'config.json'));
    const before = await countRows(db);
    const res = await upload('links', await tarGz(dir, ['model.safetensors', 'config.json']));
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({
      field: 'body',
      reason: 'the archive has no config.json',
    });
    expect(await countRows(db)).toEqual(before);
  });

  it('refuses an archive that expands past the limit (413), even when it compresses well', async () => {
    const dir = join(scratch, 'bomb');
    await writeModelDir(dir);
    await writeFile(join(dir, 'model.safetensors'), Buffer.alloc(ARCHIVE_LIMIT * 4, 0));
    const gz = await tarGz(dir, ['config.json', 'model.safetensors']);
    expect(gz.length).toBeLessThan(ARCHIVE_LIMIT);
    const res = await upload('bomb', gz);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });
});
