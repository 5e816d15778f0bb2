import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundPolicy } from '../../common/ssrf-guard.js';
import { initBackend } from '../backend.js';
import { ConfigError, resolveConfig } from './config.js';
import { train } from './train.js';
import type { CompletionSample, RlMetrics, StepMetrics } from './types.js';

/**
 * A run's `rewards`: several reward functions, one an HTTP grader (so the trainer's scoring is asynchronous),
 * combined by weight; a completion is positive at or above popo.positive_threshold, and each component is a step
 * metric rewards/<name>.
 */

let server: Server;
let url = '';
const graded: string[] = [];
// The grader's verdict: 1 for a completion of even length. Answered after a delay, so scoring really waits.
const judge = (completion: string) => (completion.length % 2 === 0 ? 1 : 0);

beforeAll(async () => {
  await initBackend('cpu');
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const { completion } = JSON.parse(raw) as { completion: string };
      graded.push(completion);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ score: judge(completion) }));
      }, 2);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/grade`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe('a run with several reward functions', () => {
  it('combines them by weight, takes positives at the threshold and reports each component per step', async () => {
    const config = resolveConfig({
      algorithm: 'popo',
      steps: 2,
      seed: 4,
      backend: 'cpu',
      checkpoint_every: 0,
      model: { builtin: 'tiny-86k' },
      data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
      sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
      optimizer: { lr: 1e-3 },
      rewards: [
        { type: 'http', url, name: 'judge', weight: 3 },
        { type: 'regex', pattern: '\\d', name: 'digit' },
      ],
      popo: { positive_threshold: 0.75 },
    });
    const steps: StepMetrics[] = [];
    const samples: CompletionSample[][] = [];
    await train(
      config,
      { onStep: (m) => void steps.push(m), onCompletions: (_s, c) => void samples.push(c) },
      { outbound: new OutboundPolicy(['127.0.0.1/32']) },
    );
    expect(steps).toHaveLength(2);
    for (const [i, m] of (steps as RlMetrics[]).entries()) {
      const rows = samples[i];
      expect(rows).toHaveLength(8); // B 2 × G 4: every completion of the step
      const digit = rows.map((r) => (/\d/.test(r.completion) ? 1 : 0));
      const judged = rows.map((r) => judge(r.completion));
      rows.forEach((r, j) => {
        expect(r.reward).toBeCloseTo((3 * judged[j] + digit[j]) / 4, 10);
        expect(r.positive).toBe(r.reward >= 0.75);
      });
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(m['rewards/judge']).toBeCloseTo(mean(judged), 10);
      expect(m['rewards/digit']).toBeCloseTo(mean(digit), 10);
      expect(m.reward_mean).toBeCloseTo(mean(rows.map((r) => r.reward)), 10);
      if (m.algorithm === 'popo')
        expect(m.positive_fraction).toBeCloseTo(mean(rows.map((r) => +r.positive)), 10);
    }
    // Every rollout completion and every eval completion (2 problems, before and after) went to the grader.
    expect(graded.length).toBe(2 * 8 + 2 * 2);
  }, 120_000);

  it('is refused together with data.reward, and with a bad component, naming the field', () => {
    const issues = (partial: unknown) => {
      try {
        resolveConfig(partial);
        return [];
      } catch (e) {
        return (e as ConfigError).issues;
      }
    };
    expect(
      issues({
        rewards: [{ type: 'math' }],
        data: { task: { name: 'add', n_train: 10, n_test: 2 }, reward: 'exact' },
      }),
    ).toEqual([expect.objectContaining({ field: 'rewards', reason: expect.stringContaining('not both') })]);
    expect(issues({ rewards: [{ type: 'regex', pattern: '(a+)+' }] })).toEqual([
      expect.objectContaining({ field: 'rewards.0.pattern' }),
    ]);
    expect(issues({ rewards: [] })).toEqual([
      expect.objectContaining({ field: 'rewards', reason: 'must hold at least one reward' }),
    ]);
  });
});
