import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UploadSlots } from '../../src/common/upload-limit.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

// Dataset uploads against a client that is slow or hostile: small limits so the test is quick.
let db: TestDatabase;
let api: TestApi;
const LINE_LIMIT = 4096;
const POOL = 2;
const ndjson = { 'content-type': 'application/x-ndjson' };
const row = (i: number) => `{"problem":"${i}+1","answer":"${i + 1}"}\n`;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({
    db,
    queue: new RecordingQueue(),
    env: {
      MAX_DATASET_LINE_BYTES: String(LINE_LIMIT),
      DB_POOL_SIZE: String(POOL),
      MAX_CONCURRENT_UPLOADS_PER_KEY: '2',
    },
  });
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

/** An upload whose body the test feeds by hand; the request stays open until end(). */
function openUpload(token: string, name: string) {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
  const response = fetch(`${api.baseUrl}/v1/datasets?name=${name}`, {
    method: 'POST',
    headers: { ...ndjson, authorization: `Bearer ${token}` },
    body,
    duplex: 'half',
  } as RequestInit).then(async (r) => ({ status: r.status, body: await r.json() }));
  return {
    response,
    send: (text: string) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
  };
}

describe('dataset uploads', () => {
  it('refuses a line longer than MAX_DATASET_LINE_BYTES with a 413 naming the line, newline or not', async () => {
    const { token } = await api.createProject('long-line');
    for (const tail of ['', '\n']) {
      const res = await api.request('POST', '/v1/datasets?name=long', {
        token,
        body: row(1) + `{"problem":"${'x'.repeat(LINE_LIMIT * 20)}","answer":"1"}${tail}`,
        headers: ndjson,
      });
      expect(res.status).toBe(413);
      expect(res.body.error.details).toEqual([
        { field: 'line 2', reason: expect.stringMatching(/longer than 4096 bytes/) },
      ]);
    }
    expect(await db.query('SELECT 1 FROM datasets')).toHaveLength(0);
  });

  it('holds no database connection while a client is slow: more open uploads than pool connections', async () => {
    const keys = await Promise.all([0, 1, 2].map((i) => api.createProject(`slow-${i}`)));
    // Two per key (the per-key cap), six in all, three times the pool.
    const uploads = keys.flatMap(({ token }, i) => [
      openUpload(token, `s${i}a`),
      openUpload(token, `s${i}b`),
    ]);
    for (const u of uploads) u.send(row(1));
    await expect.poll(() => api.app.get(UploadSlots).active, { timeout: 30_000 }).toBe(6);
    // Everyone else is still served while all six bodies are unfinished.
    const other = await api.createProject('other');
    const list = await api.request('GET', '/v1/datasets', { token: other.token });
    expect(list.status).toBe(200);
    const quick = await api.request('POST', '/v1/datasets?name=quick', {
      token: other.token,
      body: row(7),
      headers: ndjson,
    });
    expect(quick.status).toBe(201);
    for (const u of uploads) {
      u.send(row(2) + row(3));
      u.end();
    }
    const done = await Promise.all(uploads.map((u) => u.response));
    expect(done.map((d) => d.status)).toEqual(Array(6).fill(201));
    expect(done.map((d) => d.body.row_count)).toEqual(Array(6).fill(3));
  });

  it('answers 429 to a key past MAX_CONCURRENT_UPLOADS_PER_KEY, and frees the slot when an upload ends', async () => {
    const a = await api.createProject('busy');
    const b = await api.createProject('idle');
    const open = [openUpload(a.token, 'one'), openUpload(a.token, 'two')];
    for (const u of open) u.send(row(1));
    // Both admitted (the server has started reading them) before the third is tried.
    const slots = api.app.get(UploadSlots);
    await expect.poll(() => slots.active, { timeout: 30_000 }).toBe(2);
    const third = await api.request('POST', '/v1/datasets?name=three', {
      token: a.token,
      body: row(1),
      headers: ndjson,
    });
    expect(third.body.error).toMatchObject({
      code: 'too_many_uploads',
      message: expect.stringMatching(/2 upload/),
    });
    expect(
      (await api.request('POST', '/v1/datasets?name=b', { token: b.token, body: row(1), headers: ndjson }))
        .status,
    ).toBe(201);
    open[0].end();
    expect((await open[0].response).status).toBe(201);
    expect(
      (
        await api.request('POST', '/v1/datasets?name=again', {
          token: a.token,
          body: row(1),
          headers: ndjson,
        })
      ).status,
    ).toBe(201);
    open[1].end();
    expect((await open[1].response).status).toBe(201);
  });
});
