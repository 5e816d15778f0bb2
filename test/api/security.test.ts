import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { create as tarCreate } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../src/learner/model/config.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

// Two projects and a stranger, each trying what they should not be able to do.
let db: TestDatabase;
let api: TestApi;
const FAILURES = 5;
const hfConfig = { ...BUILTIN_MODELS['tiny-1m'], architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({
    db,
    queue: new RecordingQueue(),
    env: { AUTH_FAILURES_PER_MINUTE: String(FAILURES) },
  });
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

async function uploadModel(token: string, name: string): Promise<string> {
  const dir = join(api.dataDir, 'scratch', name);
  await mkdir(join(dir, 'm'), { recursive: true });
  await writeFile(join(dir, 'm', 'config.json'), JSON.stringify(hfConfig));
  await writeFile(join(dir, 'm', 'model.safetensors'), Buffer.alloc(100, 1));
  const chunks: Buffer[] = [];
  for await (const c of tarCreate({ gzip: true, cwd: dir, portable: true }, ['m'])) chunks.push(c as Buffer);
  const res = await api.request('POST', `/v1/models/upload?name=${name}`, {
    token,
    body: new Uint8Array(Buffer.concat(chunks)),
    headers: { 'content-type': 'application/gzip' },
  });
  expect(res.status).toBe(201);
  return res.body.path;
}

describe('security', () => {
  it('a project cannot register another project`s uploaded model by path, and errors do not reveal what exists', async () => {
    const a = await api.createProject('a');
    const b = await api.createProject('b');
    const path = await uploadModel(a.token, 'mine');
    const register = (token: string, p: string) =>
      api.request('POST', '/v1/models', { token, json: { name: `r${Math.random()}`, path: p } });
    const stolen = await register(b.token, path);
    expect(stolen.status).toBe(400);
    // Another project's model, a missing path, a system file and a path outside the roots: one answer.
    const answers = await Promise.all(
      [path, join(path, 'nope'), '/etc/passwd', '/etc', join(api.dataDir, 'models', 'uploads', 'x')].map(
        async (p) => (await register(b.token, p)).body.error.details,
      ),
    );
    for (const d of answers) expect(d).toEqual(answers[0]);
    expect(answers[0][0]).toMatchObject({
      field: 'path',
      reason: expect.stringMatching(/is not a directory this project may register/),
    });
    // The owner may register its own upload.
    expect((await register(a.token, path)).status).toBe(201);
  });

  it('throttles invalid keys by client address: 401s, then 429 even for a valid key, per address', async () => {
    const { token } = await api.createProject('victim');
    const statuses: number[] = [];
    for (let i = 0; i < FAILURES + 3; i++)
      statuses.push((await api.request('GET', '/v1/jobs', { token: `popo_guess_${i}` })).status);
    expect(statuses).toEqual([...Array(FAILURES).fill(401), 429, 429, 429]);
    const blocked = await api.request('GET', '/v1/jobs', { token });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toMatchObject({
      code: 'rate_limited',
      message: expect.stringMatching(/failed authentications/),
    });
  });
});
