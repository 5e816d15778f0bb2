/**
 * POST /v1/rewards/run end to end over HTTP: the real API (auth, validation, error shape) scoring samples with the
 * built-in verifier and a grader server started here on 127.0.0.1 (the API is told to allow loopback, as in
 * development), plus the SSRF refusals that stay in force for every other private address.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

let db: TestDatabase;
let api: TestApi;
let token: string;
let grader: Server;
let graderUrl = '';
const received: unknown[] = [];
let failing = false;

beforeAll(async () => {
  grader = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { completion: string; answer: string };
      received.push(body);
      if (failing) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ score: body.completion.includes(body.answer) ? 1 : 0.25 }));
    });
  });
  await new Promise<void>((r) => grader.listen(0, '127.0.0.1', r));
  graderUrl = `http://127.0.0.1:${(grader.address() as AddressInfo).port}/grade`;
  db = await createTestDatabase();
  api = await startTestApi({ db, queue: new RecordingQueue(), env: { POPO_OUTBOUND_ALLOW: '127.0.0.1/32' } });
  ({ token } = await api.createProject());
});

afterAll(async () => {
  await api?.close();
  await db?.drop();
  grader.closeAllConnections();
  await new Promise((r) => grader.close(r));
});

const samples = [
  {
    prompt: 'What is 6*7?',
    completion: 'Final Answer: The final answer is $42$. I hope it is correct.',
    answer: '42',
  },
  { prompt: 'What is 6*7?', completion: 'It is \\boxed{41}.', answer: '42' },
];
const run = (json: unknown, auth = token) => api.request('POST', '/v1/rewards/run', { token: auth, json });

describe('POST /v1/rewards/run', () => {
  it('needs an API key', async () => {
    const res = await api.request('POST', '/v1/rewards/run', {
      json: { rewards: [{ type: 'math' }], samples },
    });
    expect(res.status).toBe(401);
  });

  it('scores samples with the math verifier, a regex and the HTTP grader, weighted, without a job', async () => {
    received.length = 0;
    const res = await run({
      rewards: [
        { type: 'math', mode: 'math_verify', weight: 2 },
        { type: 'regex', pattern: 'I hope it is correct', name: 'format' },
        { type: 'http', url: graderUrl, retries: 0 },
      ],
      positive_threshold: 0.6,
      samples,
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(received).toEqual(
      samples.map(({ prompt, completion, answer }) => ({ prompt, completion, answer })),
    );
    const [right, wrong] = res.body.results;
    expect(right).toMatchObject({ score: 1, positive: true });
    expect(right.components).toEqual([
      { name: 'math', type: 'math', weight: 2, score: 1, reason: 'equivalent (string)', extracted: '42' },
      {
        name: 'format',
        type: 'regex',
        weight: 1,
        score: 1,
        reason: 'pattern matched',
        extracted: 'I hope it is correct',
      },
      { name: 'http', type: 'http', weight: 1, score: 1, reason: 'grader score 1', attempts: 1 },
    ]);
    expect(wrong.components.map((c: { score: number }) => c.score)).toEqual([0, 0, 0.25]);
    expect(wrong.score).toBeCloseTo(0.25 / 4);
    expect(wrong.positive).toBe(false);
    expect(res.body).toMatchObject({ positive_threshold: 0.6, positive_rate: 0.5 });
    expect(res.body.mean_score).toBeCloseTo((1 + 0.0625) / 2);
    const jobs = await api.request('GET', '/v1/jobs', { token });
    expect(jobs.body.items).toEqual([]);
  });

  it('reports a failing grader per component instead of failing the request', async () => {
    failing = true;
    try {
      const res = await run({
        rewards: [{ type: 'http', url: graderUrl, retries: 1 }, { type: 'math' }],
        samples,
      });
      expect(res.status).toBe(200);
      expect(res.body.results[0].components[0]).toMatchObject({
        score: 0,
        error: true,
        reason: expect.stringMatching(/after 2 attempts: HTTP 503/),
      });
      expect(res.body.results[0].score).toBe(0.5);
    } finally {
      failing = false;
    }
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/', /link-local\/cloud metadata/],
    ['http://10.1.2.3/grade', /private/],
    ['http://[::1]:9/grade', /loopback/],
    ['http://192.168.0.10/grade', /private/],
    ['file:///etc/passwd', /http\(s\)/],
  ])('refuses the grader URL %s with a 400 naming the field', async (url, reason) => {
    received.length = 0;
    const res = await run({ rewards: [{ type: 'math' }, { type: 'http', url }], samples });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([
      { field: 'rewards.1.url', reason: expect.stringMatching(reason) },
    ]);
    expect(received).toEqual([]);
  });

  it.each([
    [{ rewards: [{ type: 'regex', pattern: '(a+)+' }], samples }, 'rewards.0.pattern'],
    [{ rewards: [{ type: 'math', mode: 'loose' }], samples }, 'rewards.0.mode'],
    [{ rewards: [{ type: 'math' }], samples: [] }, 'samples'],
    [{ rewards: [], samples }, 'rewards'],
    [
      { rewards: [{ type: 'math' }], samples: [{ prompt: 'p', completion: 1, answer: '1' }] },
      'samples.0.completion',
    ],
  ])('refuses a bad request with a 400 naming the field (%#)', async (json, field) => {
    const res = await run(json);
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((d: { field: string }) => d.field)).toContain(field);
  });
});
