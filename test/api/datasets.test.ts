import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

let db: TestDatabase;
let api: TestApi;
let token: string;

const LIMIT = 64 * 1024;
const ndjson = { 'content-type': 'application/x-ndjson' };
const upload = (name: string, body: BodyInit, headers: Record<string, string> = ndjson) =>
  api.request('POST', `/v1/datasets?name=${encodeURIComponent(name)}`, { token, body, headers });

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({ db, queue: new RecordingQueue(), env: { MAX_DATASET_BYTES: String(LIMIT) } });
  ({ token } = await api.createProject());
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

describe('datasets', () => {
  it('stores every valid line in order, with row count, sha256, extra fields and a sample', async () => {
    const lines = [
      { problem: 'What is 2+3?', answer: '5', id: 'a1' },
      { problem: 'What is 7*6?', answer: 42, completion: '7*6 = 42' },
      { problem: 'Simplify 4/8', answer: '1/2', source: { book: 'x' } },
    ];
    // CRLF line ends, a blank line and no trailing newline are all accepted.
    const text = `${JSON.stringify(lines[0])}\r\n\n${JSON.stringify(lines[1])}\n${JSON.stringify(lines[2])}`;
    const res = await upload('mix', text);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: 'mix', row_count: 3, size_bytes: Buffer.byteLength(text) });
    expect(res.body.sha256).toBe(createHash('sha256').update(text).digest('hex'));
    expect(res.body.extra_fields).toEqual(['completion', 'id', 'source']);

    const got = await api.request('GET', `/v1/datasets/${res.body.id}`, { token });
    expect(got.status).toBe(200);
    expect(got.body.sample.map((r: { answer: string }) => r.answer)).toEqual(['5', '42', '1/2']);
    expect(got.body.sample[1].extra).toEqual({ completion: '7*6 = 42' });
    expect(got.body.sample[2].extra).toEqual({ source: { book: 'x' } });

    const rows = await api.request('GET', `/v1/datasets/${res.body.id}/rows?offset=1&limit=1`, { token });
    expect(rows.body).toMatchObject({ total: 3, items: [{ idx: 1, problem: 'What is 7*6?' }] });
  });

  it('maps other field names with problem_field / answer_field (GSM8K question, OlympiadBench final_answer)', async () => {
    const text = [
      { question: 'What is 6 times 7?', answer: 'unused', final_answer: ['42'] },
      { question: 'Name two primes', final_answer: ['2', '3'], split: 'test' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const res = await api.request(
      'POST',
      '/v1/datasets?name=mapped&problem_field=question&answer_field=final_answer',
      { token, body: text, headers: ndjson },
    );
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const rows = await api.request('GET', `/v1/datasets/${res.body.id}/rows`, { token });
    expect(rows.body.items).toMatchObject([
      { problem: 'What is 6 times 7?', answer: '42', extra: { answer: 'unused' } },
      { problem: 'Name two primes', answer: '2, 3', extra: { split: 'test' } },
    ]);
    // Unmapped, the same lines have no problem: refused naming the line and the field.
    const plain = await upload('plain', text);
    expect(plain.status).toBe(400);
    expect(plain.body.error.details[0]).toMatchObject({ field: 'line 1.problem', reason: 'is required' });
  });

  it('streams a large upload in batches (more rows than one insert batch)', async () => {
    const n = 1234;
    const text = Array.from({ length: n }, (_, i) =>
      JSON.stringify({ problem: `${i}+1`, answer: String(i + 1) }),
    ).join('\n');
    const res = await upload('big', text);
    expect(res.status).toBe(201);
    expect(res.body.row_count).toBe(n);
    const stored = await db.query<{ n: number; max: number }>(
      'SELECT count(*)::int AS n, max(idx) AS max FROM dataset_rows WHERE dataset_id = $1',
      [res.body.id],
    );
    expect(stored[0]).toEqual({ n, max: n - 1 });
  });

  it('rolls back everything when a bad line comes after many good ones', async () => {
    const before = await countRows(db);
    const good = Array.from({ length: 700 }, (_, i) => JSON.stringify({ problem: `p${i}`, answer: 'a' }));
    const text = [
      ...good,
      '{"problem": "late", "answer": ""}',
      '{"problem": "ok", "answer": "1"}',
      'not json',
    ].join('\n');
    const res = await upload('late-error', text);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([
      { field: 'line 701.answer', reason: 'must be a non-empty string or a finite number' },
      { field: 'line 703', reason: expect.stringMatching(/^is not valid JSON/) },
    ]);
    expect(res.body.error.message).toMatch(/2 invalid line/);
    expect(await countRows(db)).toEqual(before);
  });

  it('refuses an oversized body with 413 whether or not Content-Length announces it', async () => {
    const before = await countRows(db);
    const line = JSON.stringify({ problem: 'x'.repeat(200), answer: '1' }) + '\n';
    const text = line.repeat(Math.ceil((LIMIT * 1.5) / line.length));
    const declared = await upload('too-big', text);
    expect(declared.status).toBe(413);
    expect(declared.body.error.code).toBe('payload_too_large');

    // A chunked stream has no Content-Length: the limit is enforced while reading.
    const chunks = [text.slice(0, LIMIT / 2), text.slice(LIMIT / 2)];
    const stream = new ReadableStream({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const streamed = await upload('too-big-stream', stream);
    expect(streamed.status).toBe(413);
    expect(streamed.body.error.message).toMatch(String(LIMIT));
    expect(await countRows(db)).toEqual(before);
  });

  it('lists newest first with a cursor that neither skips nor repeats', async () => {
    const { token: t2 } = await api.createProject('pager');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await api.request('POST', `/v1/datasets?name=d${i}`, {
        token: t2,
        body: `{"problem":"p","answer":"${i}"}`,
        headers: ndjson,
      });
      ids.push(r.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { items: { id: string }[]; next_cursor: string | null } } = await api.request(
        'GET',
        `/v1/datasets?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: t2 },
      );
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((d) => d.id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });

  it('deletes a dataset, but not while an active job uses it (409)', async () => {
    const ds = await upload('in-use', '{"problem":"1+1","answer":"2"}');
    const job = await api.request('POST', '/v1/jobs', {
      token,
      json: { algorithm: 'grpo', model: { builtin: 'tiny-1m' }, data: { dataset_id: ds.body.id } },
    });
    expect(job.status).toBe(201);
    const refused = await api.request('DELETE', `/v1/datasets/${ds.body.id}`, { token });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'dataset_in_use' });

    await api.request('POST', `/v1/jobs/${job.body.id}/cancel`, { token });
    const ok = await api.request('DELETE', `/v1/datasets/${ds.body.id}`, { token });
    expect(ok.status).toBe(204);
    const rows = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM dataset_rows WHERE dataset_id = $1',
      [ds.body.id],
    );
    expect(rows[0].n).toBe(0);
    const after = await api.request('GET', `/v1/jobs/${job.body.id}`, { token });
    expect(after.body.dataset_id).toBeNull();
  });
});
