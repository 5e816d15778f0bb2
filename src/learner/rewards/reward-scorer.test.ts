import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundPolicy } from '../../common/ssrf-guard.js';
import { ConfigError } from '../trainer/config.js';
import { HttpGrader } from './http-grader.js';
import { parseRewardSet, RewardScorer, rewardUrlIssues } from './reward-scorer.js';
import { stopSymbolicWorker } from './symbolic.js';

const LOOPBACK = new OutboundPolicy(['127.0.0.1/32']);
const sample = { prompt: 'What is 2+2?', completion: 'It is \\boxed{4}.', answer: '4' };

/** A grader server whose behaviour each test sets; it records requests and the most calls in flight. */
let server: Server;
let base = '';
let handler: (body: { prompt: string; completion: string; answer: string }, res: ServerResponse) => void;
let inFlight = 0;
let maxInFlight = 0;
let calls = 0;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      calls++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('close', () => inFlight--);
      handler(JSON.parse(raw), res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await stopSymbolicWorker();
});

const reset = () => {
  calls = 0;
  maxInFlight = 0;
};
const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('reward set spec', () => {
  it('fills defaults', () => {
    expect(parseRewardSet({ rewards: [{ type: 'math' }] })).toEqual({
      rewards: [{ type: 'math', mode: 'strict', last_number_fallback: false, weight: 1 }],
      positive_threshold: 0.5,
    });
  });

  it.each([
    [{ rewards: [] }, 'rewards', /at least one/],
    [{ rewards: [{ type: 'llm' }] }, 'rewards.0.type', /type math, exact_match, regex or http/],
    [{ rewards: [{ type: 'math', mode: 'lenient' }] }, 'rewards.0.mode', /strict, math_verify/],
    [{ rewards: [{ type: 'math', weight: 0 }] }, 'rewards.0.weight', /> 0 and <= 1000/],
    [{ rewards: [{ type: 'regex', pattern: '(a+)+$' }] }, 'rewards.0.pattern', /nest quantifiers/],
    [{ rewards: [{ type: 'regex', pattern: '[' }] }, 'rewards.0.pattern', /not a valid regular expression/],
    [{ rewards: [{ type: 'regex', pattern: 'a', flags: 'g' }] }, 'rewards.0.flags', /i, m, s, u/],
    [{ rewards: [{ type: 'http', url: 'x', timeout_ms: 10 }] }, 'rewards.0.timeout_ms', /integer >= 100/],
    [{ rewards: [{ type: 'math', extra: 1 }] }, 'rewards.0.extra', /not a known field/],
    [{ rewards: [{ type: 'math' }], positive_threshold: 2 }, 'positive_threshold', />= 0 and <= 1/],
  ])('refuses %j naming the field', (input, fieldName, reason) => {
    try {
      parseRewardSet(input);
      expect.unreachable('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const issue = (e as ConfigError).issues.find((i) => i.field === fieldName);
      expect(issue, JSON.stringify((e as ConfigError).issues)).toBeDefined();
      expect(issue!.reason).toMatch(reason);
    }
  });
});

describe('RewardScorer', () => {
  it('scores math, exact match and regex components and combines them by weight', async () => {
    const scorer = new RewardScorer(
      parseRewardSet({
        rewards: [
          { type: 'math', weight: 3 },
          { type: 'regex', pattern: '^It is', name: 'format' },
          { type: 'exact_match' },
        ],
        positive_threshold: 0.7,
      }),
    );
    const right = await scorer.score(sample);
    expect(right.components.map((c) => [c.name, c.score])).toEqual([
      ['math', 1],
      ['format', 1],
      ['exact_match', 1],
    ]);
    expect(right).toMatchObject({ score: 1, positive: true });
    const wrong = await scorer.score({ ...sample, completion: 'It is \\boxed{5}.' });
    expect(wrong.score).toBeCloseTo(1 / 5);
    expect(wrong.positive).toBe(false);
    expect(wrong.components[0]).toMatchObject({ score: 0, reason: 'not equivalent', extracted: '5' });
  });

  it('offers the math_verify mode and the last-number fallback', async () => {
    const unmarked = { ...sample, completion: 'so the total is 4' };
    const score = async (reward: object) =>
      (await new RewardScorer(parseRewardSet({ rewards: [reward] })).score(unmarked)).score;
    expect(await score({ type: 'math' })).toBe(0);
    expect(await score({ type: 'math', mode: 'math_verify' })).toBe(1);
    expect(await score({ type: 'math', last_number_fallback: true })).toBe(1);
  });

  it('substitutes the escaped answer into a regex and matches case-insensitively on request', async () => {
    const scorer = new RewardScorer(
      parseRewardSet({ rewards: [{ type: 'regex', pattern: 'answer: {answer}$', flags: 'i' }] }),
    );
    expect((await scorer.score({ ...sample, completion: 'ANSWER: 1+1', answer: '1+1' })).score).toBe(1);
    expect((await scorer.score({ ...sample, completion: 'ANSWER: 11', answer: '1+1' })).score).toBe(0);
  });

  it('asks an HTTP grader and reports its score per component', async () => {
    reset();
    const seen: unknown[] = [];
    handler = (body, res) => {
      seen.push(body);
      json(res, 200, { score: body.completion.includes('4') ? 0.75 : 0 });
    };
    const scorer = new RewardScorer(
      parseRewardSet({ rewards: [{ type: 'http', url: `${base}/grade` }, { type: 'math' }] }),
      LOOPBACK,
    );
    const r = await scorer.score(sample);
    expect(seen).toEqual([sample]);
    expect(r.components[0]).toMatchObject({ name: 'http', score: 0.75, reason: 'grader score 0.75' });
    expect(r.score).toBeCloseTo(0.875);
  });

  it('scoreNow answers synchronously without an HTTP grader (the trainer fast path), a promise with one', () => {
    const local = new RewardScorer(
      parseRewardSet({ rewards: [{ type: 'math' }, { type: 'math', name: 'math', weight: 2 }] }),
    );
    expect(local.componentNames).toEqual(['math', 'math_2']);
    const now = local.scoreNow(sample);
    expect(now).not.toBeInstanceOf(Promise);
    expect(now).toMatchObject({ score: 1, positive: true });
    const remote = new RewardScorer(
      parseRewardSet({ rewards: [{ type: 'http', url: 'http://127.0.0.1:9/x', retries: 0 }] }),
    );
    const later = remote.scoreNow(sample);
    expect(later).toBeInstanceOf(Promise);
    // Refused by the default policy (loopback): still a score, 0, never a rejection.
    return expect(later).resolves.toMatchObject({ score: 0, positive: false });
  });
});

describe('HttpGrader', () => {
  const grader = (over: Partial<ConstructorParameters<typeof HttpGrader>[0]> = {}) =>
    new HttpGrader({
      url: `${base}/grade`,
      timeoutMs: 2000,
      retries: 2,
      concurrency: 4,
      policy: LOOPBACK,
      backoffMs: 5,
      ...over,
    });

  it('retries a 503 and a 429, then uses the answer', async () => {
    reset();
    handler = (_b, res) =>
      calls < 3 ? json(res, calls === 1 ? 503 : 429, {}) : json(res, 200, { score: 1 });
    expect(await grader().grade(sample)).toEqual({ score: 1, reason: 'grader score 1', attempts: 3 });
  });

  it('does not retry a 4xx or a malformed answer, and scores 0 with the reason', async () => {
    reset();
    handler = (_b, res) => json(res, 400, { error: 'bad' });
    expect(await grader().grade(sample)).toMatchObject({
      score: 0,
      error: true,
      reason: 'grader error: HTTP 400',
    });
    expect(calls).toBe(1);
    handler = (_b, res) => json(res, 200, { score: 7 });
    expect((await grader().grade(sample)).reason).toMatch(/between 0 and 1/);
    handler = (_b, res) => res.end('not json');
    expect((await grader().grade(sample)).reason).toMatch(/not JSON/);
  });

  it('gives up after its retries when the grader never answers', async () => {
    reset();
    handler = () => undefined; // never responds
    const r = await grader({ timeoutMs: 150, retries: 1 }).grade(sample);
    expect(r).toMatchObject({ score: 0, error: true, attempts: 2 });
    expect(r.reason).toMatch(/after 2 attempts: no answer within 150 ms/);
    expect(calls).toBe(2);
  });

  it('keeps at most `concurrency` calls in flight', async () => {
    reset();
    const pending: ServerResponse[] = [];
    handler = (_b, res) => {
      pending.push(res);
      // Answer everything once the limit's worth of calls is waiting: more would mean the limit leaked.
      if (pending.length === 3) for (const p of pending.splice(0)) json(p, 200, { score: 0.5 });
    };
    const g = grader({ concurrency: 3 });
    const results = await Promise.all(Array.from({ length: 9 }, () => g.grade(sample)));
    expect(results.every((r) => r.score === 0.5)).toBe(true);
    expect(calls).toBe(9);
    expect(maxInFlight).toBe(3);
  });

  it('refuses loopback, private and metadata addresses unless allowed', async () => {
    reset();
    handler = (_b, res) => json(res, 200, { score: 1 });
    const r = await grader({ policy: new OutboundPolicy() }).grade(sample);
    expect(r).toMatchObject({ score: 0, error: true, attempts: 1 });
    expect(r.reason).toMatch(/loopback/);
    expect(calls).toBe(0);
    const spec = parseRewardSet({
      rewards: [
        { type: 'http', url: `${base}/grade` },
        { type: 'http', url: 'http://169.254.169.254/latest/meta-data' },
        { type: 'http', url: 'http://10.0.0.7/grade' },
        { type: 'http', url: 'file:///etc/passwd' },
        { type: 'math' },
      ],
    });
    const issues = await rewardUrlIssues(spec, new OutboundPolicy());
    expect(issues.map((i) => i.field)).toEqual([
      'rewards.0.url',
      'rewards.1.url',
      'rewards.2.url',
      'rewards.3.url',
    ]);
    expect(issues.map((i) => i.reason).join(' ')).toMatch(/loopback.*link-local.*private.*http/);
    expect((await rewardUrlIssues(spec, LOOPBACK)).map((i) => i.field)).toEqual([
      'rewards.1.url',
      'rewards.2.url',
      'rewards.3.url',
    ]);
  });
});
