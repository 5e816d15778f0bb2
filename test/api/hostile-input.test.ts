import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/common/pagination.js';
import { countRows, createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, TEST_ADMIN_KEY, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

// Input built to break the service rather than by mistake: every request here must answer a 4xx that names
// the problem, never a 5xx or a hang, and write nothing.
let db: TestDatabase;
let api: TestApi;
const queue = new RecordingQueue();
let a: { projectId: string; token: string };
let datasetA: string;
let jobA: string;

const UUID0 = '00000000-0000-4000-8000-000000000000';
const ndjson = { 'content-type': 'application/x-ndjson' };
const deep = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({ db, queue });
  a = await api.createProject('a');
  datasetA = (
    await api.request('POST', '/v1/datasets?name=d', {
      token: a.token,
      body: '{"problem":"1+1","answer":"2"}',
      headers: ndjson,
    })
  ).body.id;
  jobA = (
    await api.request('POST', '/v1/jobs', {
      token: a.token,
      json: { algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { dataset_id: datasetA } },
    })
  ).body.id;
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

interface Case {
  name: string;
  send: () => Promise<{ status: number; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  status?: number;
  /** A detail that must be present: the field and a pattern for its reason. */
  field?: string;
  reason?: RegExp;
}

const validJob = () => ({ algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { dataset_id: datasetA } });
const rawJson = (path: string, body: string, token: () => string) => () =>
  api.request('POST', path, { token: token(), body, headers: { 'content-type': 'application/json' } });
const job = (patch: Record<string, unknown>) => () =>
  api.request('POST', '/v1/jobs', { token: a.token, json: { ...validJob(), ...patch } });
const dataset =
  (body: string, query = '?name=x') =>
  () =>
    api.request('POST', `/v1/datasets${query}`, { token: a.token, body, headers: ndjson });
const get = (path: string) => () => api.request('GET', path, { token: a.token });
const cursor = (ts: string, id: string) => encodeURIComponent(encodeCursor({ ts, id }));

const NUL = 'a\u0000b';
const LONE = 'a\ud800b';
const TEXT_REASON = /NUL|surrogate/;

const CASES: Case[] = [
  // Nesting: every JSON body goes through one parser, so one depth limit covers them all.
  ...(
    [
      ['/v1/jobs', `{"kind":"popo","x":${deep(3000)}}`],
      ['/v1/sweeps', `{"base":${'{"a":'.repeat(2500)}1${'}'.repeat(2500)}}`],
      ['/v1/models', `{"name":"m","path":${deep(2000)}}`],
      ['/v1/projects', deep(100_000)],
    ] as const
  ).map(([path, body]): Case => ({
    name: `JSON nested thousands of levels deep on POST ${path}`,
    send: rawJson(path, body, () => (path === '/v1/projects' ? TEST_ADMIN_KEY : a.token)),
    reason: /nest/,
  })),
  {
    name: 'dataset line nested 3000 levels deep',
    send: dataset(`{"problem":"1","answer":"2","x":${deep(3000)}}`),
    field: 'line 1.x',
    reason: /nest/,
  },
  // Text Postgres cannot store (NUL) or that is not Unicode (a lone surrogate), in names, values and keys.
  { name: 'NUL in a job name', send: job({ name: NUL }), field: 'name', reason: TEXT_REASON },
  { name: 'lone surrogate in a job name', send: job({ name: LONE }), field: 'name', reason: TEXT_REASON },
  {
    name: 'NUL in a project name',
    send: () => api.request('POST', '/v1/projects', { token: TEST_ADMIN_KEY, json: { name: NUL } }),
    field: 'name',
    reason: TEXT_REASON,
  },
  {
    name: 'lone surrogate in a key name',
    send: () =>
      api.request('POST', `/v1/projects/${a.projectId}/keys`, {
        token: TEST_ADMIN_KEY,
        json: { name: LONE },
      }),
    field: 'name',
    reason: TEXT_REASON,
  },
  {
    name: 'NUL in a dataset name',
    send: dataset('{"problem":"1","answer":"2"}', '?name=a%00b'),
    field: 'name',
    reason: TEXT_REASON,
  },
  {
    name: 'NUL in dataset extra',
    send: dataset('{"problem":"1","answer":"2","tag":"x\\u0000y"}'),
    field: 'line 1.tag',
    reason: TEXT_REASON,
  },
  {
    name: 'lone surrogate in dataset extra',
    send: dataset('{"problem":"1","answer":"2","meta":{"t":"\\ud800"}}'),
    field: 'line 1.meta.t',
    reason: TEXT_REASON,
  },
  {
    name: 'lone surrogate in a dataset problem',
    send: dataset('{"problem":"\\udc00","answer":"2"}'),
    field: 'line 1.problem',
    reason: TEXT_REASON,
  },
  {
    name: 'NUL in a dataset extra key',
    send: dataset('{"problem":"1","answer":"2","k\\u0000":1}'),
    reason: TEXT_REASON,
  },
  { name: 'NUL in a nested job field', send: job({ reward: NUL }), reason: TEXT_REASON },
  // Sections sent as null are not "absent".
  ...['eval', 'grpo', 'popo', 'data', 'model', 'from_checkpoint', 'sampling', 'optimizer'].map(
    (section): Case => ({ name: `"${section}": null`, send: job({ [section]: null }), field: section }),
  ),
  // Cursors decode to something Postgres must be able to compare; anything else is the client's mistake.
  ...[
    ['ts "1"', cursor('1', UUID0)],
    ['ts 2026-02-30', cursor('2026-02-30T00:00:00.000000Z', UUID0)],
    ['ts in year +275760', cursor('+275760-09-13T00:00:00.000Z', UUID0)],
    ['ts with a time zone offset', cursor('2026-01-01T00:00:00+99:00', UUID0)],
    ['an id of 36 dashes', cursor('2026-01-01T00:00:00.000000Z', '-'.repeat(36))],
    ['not base64 JSON', '%%%'],
  ].flatMap(([what, c]) =>
    ['/v1/jobs', '/v1/datasets'].map((path): Case => ({
      name: `${path} cursor with ${what}`,
      send: get(`${path}?cursor=${c}`),
      field: 'cursor',
    })),
  ),
  // Integers beyond what the columns hold.
  { name: 'events?after=1e20', send: () => get(`/v1/jobs/${jobA}/events?after=1e20`)(), field: 'after' },
  {
    name: 'events?after=99999999999999999999',
    send: () => get(`/v1/jobs/${jobA}/events?after=99999999999999999999`)(),
    field: 'after',
  },
  {
    name: 'rows?offset=1e20',
    send: () => get(`/v1/datasets/${datasetA}/rows?offset=1e20`)(),
    field: 'offset',
  },
  {
    name: 'metrics?fromStep=2147483648',
    send: () => get(`/v1/jobs/${jobA}/metrics?fromStep=2147483648`)(),
    field: 'fromStep',
  },
  { name: 'metrics?every=1e300', send: () => get(`/v1/jobs/${jobA}/metrics?every=1e300`)(), field: 'every' },
  { name: 'jobs?limit=0x10', send: get('/v1/jobs?limit=0x10'), field: 'limit' },
  { name: 'rows?offset=-0', send: () => get(`/v1/datasets/${datasetA}/rows?offset=%20`)(), field: 'offset' },
  {
    name: 'priority 2^53',
    send: job({ priority: 2 ** 53 }),
    field: 'priority',
  },
];

describe(`hostile input (${CASES.length} cases): a 4xx naming the problem, never a 5xx, nothing written`, () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const rowsBefore = await countRows(db);
    const res = await c.send();
    expect(res.status, JSON.stringify(res.body)).toBe(c.status ?? 400);
    expect(typeof res.body.error.message).toBe('string');
    const details = (res.body.error.details ?? []) as { field: string; reason: string }[];
    if (c.field) {
      const detail = details.find((d) => d.field === c.field);
      expect(detail, JSON.stringify(res.body.error)).toBeDefined();
      if (c.reason) expect(detail!.reason).toMatch(c.reason);
    } else if (c.reason) expect(`${res.body.error.message} ${JSON.stringify(details)}`).toMatch(c.reason);
    expect(await countRows(db)).toEqual(rowsBefore);
  });
});
