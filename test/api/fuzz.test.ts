import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

// Seeded fuzzing of the job and dataset bodies: whatever the mutation, the answer is never a 5xx. Bounded by
// count and by a time budget so it stays a few seconds in CI; the seed is printed on failure to replay it.
const SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const JOB_CASES = 100;
const DATASET_CASES = 40;
const BUDGET_MS = 8_000;

let db: TestDatabase;
let api: TestApi;
let token: string;
let datasetId: string;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApi({ db, queue: new RecordingQueue(), env: { RATE_LIMIT_PER_MINUTE: '100000' } });
  ({ token } = await api.createProject('fuzz'));
  datasetId = (
    await api.request('POST', '/v1/datasets?name=d', {
      token,
      body: '{"problem":"1+1","answer":"2"}',
      headers: { 'content-type': 'application/x-ndjson' },
    })
  ).body.id;
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}
type Rng = ReturnType<typeof rng>;

const deep = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

/** Values chosen to hit edges: types, bounds, encodings, sizes. */
function hostileValue(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => undefined,
    () => '',
    () => 'x'.repeat(r.pick([1, 201, 5000])),
    () => 'a\u0000b',
    () => '\ud800',
    () => '\udc00x',
    () => '😀'.repeat(50),
    () => r.pick([0, -1, 1, 0.5, -0.0001, 1e-300, 2 ** 31, 2 ** 53, 1e20, 1e308, -1e308]),
    () => r.pick([true, false]),
    () => [],
    () => [r.int(10), 'x', null],
    () => ({}),
    () => ({ __proto__: { polluted: true }, constructor: { prototype: {} } }),
    () => ({ nested: { deeper: hostileValue(r) } }),
    () => deep(r.pick([10, 40, 200])),
    () => '00000000-0000-4000-8000-000000000000',
    () => datasetId,
    () => 'http://169.254.169.254/',
  ])();
}

const JOB_FIELDS = [
  'algorithm',
  'mode',
  'data',
  'name',
  'model',
  'steps',
  'popo',
  'grpo',
  'eval',
  'sampling',
  'optimizer',
  'priority',
  'from_checkpoint',
  'webhook_url',
  'seed',
  'checkpoint_every',
  'unknown_field',
];

function mutate(obj: Record<string, unknown>, r: Rng, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = { ...obj };
  const edits = 1 + r.int(3);
  for (let i = 0; i < edits; i++) {
    const keys = Object.keys(out);
    const action = r.int(4);
    if (action === 0 && keys.length) delete out[r.pick(keys)];
    else if (action === 1 && depth < 2 && keys.length) {
      const k = r.pick(keys);
      const v = out[k];
      out[k] =
        typeof v === 'object' && v !== null && !Array.isArray(v)
          ? mutate(v as Record<string, unknown>, r, depth + 1)
          : hostileValue(r);
    } else
      out[
        depth === 0
          ? r.pick(JOB_FIELDS)
          : r.pick(['k', 'n', 'tau', 'alpha', 'name', 'builtin', 'task', 'dataset_id', 'n_train'])
      ] = hostileValue(r);
  }
  return out;
}

function validJob(r: Rng): Record<string, unknown> {
  return r.pick([
    () => ({ algorithm: 'popo', model: { builtin: 'tiny-1m' }, data: { dataset_id: datasetId }, steps: 5 }),
    () => ({
      algorithm: 'grpo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1 }, reward: 'exact' },
      grpo: { group_size: 4 },
    }),
    () => ({
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'reverse' } },
      popo: { alpha: 0.1 },
      eval: { n: 4, k: 2 },
    }),
  ])();
}

function datasetBody(r: Rng): string {
  const lines: string[] = [];
  const n = 1 + r.int(5);
  for (let i = 0; i < n; i++) {
    const row: Record<string, unknown> = { problem: `${i}+1`, answer: String(i + 1) };
    lines.push(
      r.pick<() => string>([
        () => JSON.stringify(row),
        () => JSON.stringify(mutate(row, r)),
        () => JSON.stringify({ ...row, extra: hostileValue(r) }) ?? '',
        () => JSON.stringify(hostileValue(r)) ?? 'undefined',
        () => '{"problem": "1", "answer": ',
        () => '\u0000\u0001\u0002',
        () => Buffer.from([0xff, 0xfe, 0xc3, 0x28]).toString('latin1'),
        () => `{"problem":"${'\\ud800'}","answer":"1"}`,
        () => '',
      ])(),
    );
  }
  return lines.join(r.pick(['\n', '\r\n', '\n\n']));
}

describe(`fuzz (seed ${SEED}): no 5xx`, () => {
  it(`${JOB_CASES} mutated job bodies and ${DATASET_CASES} mutated dataset bodies`, async () => {
    const r = rng(SEED);
    const deadline = Date.now() + BUDGET_MS;
    const failures: string[] = [];
    let sent = 0;
    for (let i = 0; i < JOB_CASES && Date.now() < deadline; i++, sent++) {
      const body = mutate(validJob(r), r);
      const res = await api.request('POST', '/v1/jobs', { token, json: body });
      if (res.status >= 500) failures.push(`job #${i} ${JSON.stringify(body)} → ${res.status}`);
    }
    for (let i = 0; i < DATASET_CASES && Date.now() < deadline; i++, sent++) {
      const body = datasetBody(r);
      const res = await api.request('POST', '/v1/datasets?name=f', {
        token,
        body,
        headers: { 'content-type': 'application/x-ndjson' },
      });
      if (res.status >= 500) failures.push(`dataset #${i} ${JSON.stringify(body)} → ${res.status}`);
    }
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(sent).toBeGreaterThan(20);
  });
});
