import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create as tarCreate } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_MODELS } from '../../src/learner/model/config.js';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

// Hostile model archives, generated here, against small limits set by the test.
let db: TestDatabase;
let api: TestApi;
let scratch: string;

const KiB = 1024;
const EXTRACTED = 512 * KiB;
const FILES = 20;
const QUOTA = 700 * KiB;
const hfConfig = { ...BUILTIN_MODELS['tiny-1m'], architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' };

async function modelDir(name: string, weightBytes: number, extraFiles = 0): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'config.json'), JSON.stringify(hfConfig));
  await writeFile(join(dir, 'model.safetensors'), Buffer.alloc(weightBytes, 0));
  for (let i = 0; i < extraFiles; i++) await writeFile(join(dir, `f${i}.txt`), 'x');
  return dir;
}

async function tar(cwd: string, gzip: boolean): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of tarCreate({ gzip, cwd, portable: true }, await readdir(cwd)))
    chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

const upload = (token: string, name: string, body: Buffer, type = 'application/gzip') =>
  api.request('POST', `/v1/models/upload?name=${name}`, {
    token,
    body: new Uint8Array(body),
    headers: { 'content-type': type },
  });

const uploadsOnDisk = async (projectId: string) =>
  readdir(join(api.dataDir, 'models', 'uploads', projectId)).catch(() => [] as string[]);

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({
    db,
    queue: new RecordingQueue(),
    env: {
      MAX_MODEL_ARCHIVE_BYTES: String(4 * 1024 * KiB),
      MAX_MODEL_EXTRACTED_BYTES: String(EXTRACTED),
      MAX_MODEL_ARCHIVE_FILES: String(FILES),
      PROJECT_STORAGE_BYTES: String(QUOTA),
    },
  });
  scratch = await mkdtemp(join(tmpdir(), 'popo-archives-'));
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
  await rm(scratch, { recursive: true, force: true });
});

describe('model archives', () => {
  it('refuses a gzip bomb as it expands (413) and keeps nothing', async () => {
    const p = await api.createProject('bomb');
    const gz = await tar(await modelDir('bomb', 16 * EXTRACTED), true);
    expect(gz.length).toBeLessThan(EXTRACTED / 4); // 8 MiB of zeros in a few KiB
    const before = await countRows(db);
    const res = await upload(p.token, 'bomb', gz);
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(new RegExp(`expands past the limit of ${EXTRACTED} bytes`));
    expect(await countRows(db)).toEqual(before);
    expect(await uploadsOnDisk(p.projectId)).toEqual([]);
  });

  it('refuses an archive with more entries than MAX_MODEL_ARCHIVE_FILES (413)', async () => {
    const p = await api.createProject('many');
    const res = await upload(p.token, 'many', await tar(await modelDir('many', 100, FILES + 5), true));
    expect(res.status).toBe(413);
    expect(res.body.error.message).toMatch(`more than ${FILES} entries`);
    expect(await uploadsOnDisk(p.projectId)).toEqual([]);
  });

  it('refuses a truncated archive: tar cut between entries, tar cut inside one, gzip cut short (400)', async () => {
    const p = await api.createProject('cut');
    const whole = await tar(await modelDir('cut', 4 * KiB), false);
    // Entries: config.json (header + 1 block) then model.safetensors (header + 8 blocks): cut after both, before
    // the end-of-archive blocks, so every file arrived whole and only the marker is missing.
    const afterEntries = whole.subarray(0, 512 * (2 + 1 + 8));
    for (const [body, type, reason] of [
      [afterEntries, 'application/x-tar', /truncated/],
      [whole.subarray(0, 512 * 5), 'application/x-tar', /not a readable tar|truncated/i],
      [gzipSync(whole).subarray(0, 300), 'application/gzip', /not a readable tar/],
    ] as const) {
      const res = await upload(p.token, 'cut', body, type);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error.details).toEqual([{ field: 'body', reason: expect.stringMatching(reason) }]);
    }
    expect(await uploadsOnDisk(p.projectId)).toEqual([]);
    // The same archive, whole, is a model.
    expect((await upload(p.token, 'whole', whole, 'application/x-tar')).status).toBe(201);
  });

  it('enforces the per-project storage quota across uploads, and frees it on delete', async () => {
    const p = await api.createProject('quota');
    const other = await api.createProject('neighbour');
    const gz = await tar(await modelDir('third', 300 * KiB), true);
    const first = await upload(p.token, 'one', gz);
    expect(first.status).toBe(201);
    expect((await upload(p.token, 'two', gz)).status).toBe(201);
    const third = await upload(p.token, 'three', gz);
    expect(third.status).toBe(413);
    expect(third.body.error.message).toMatch(/remaining storage \(PROJECT_STORAGE_BYTES/);
    // Another project has its own quota.
    expect((await upload(other.token, 'one', gz)).status).toBe(201);
    expect((await api.request('DELETE', `/v1/models/${first.body.id}`, { token: p.token })).status).toBe(204);
    expect((await upload(p.token, 'three', gz)).status).toBe(201);
  });
});
