import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { resolveConfig } from './config.js';
import { ONES, writePrimedModelDir } from './primed-model-dir.js';
import { COMPLETION_GROUPS, train } from './train.js';
import type { CompletionSample, StepMetrics } from './types.js';

let modelDir: string;
beforeAll(async () => {
  await initBackend('cpu');
  // Briefly fine-tuned so that groups mix right and wrong answers (POPO then has weights to report).
  ({ primed: modelDir } = await writePrimedModelDir(mkdtempSync(join(tmpdir(), 'popo-completions-'))));
});

const G = 4;
const config = (algorithm: 'popo' | 'grpo') =>
  resolveConfig({
    algorithm,
    seed: 7,
    steps: 3,
    backend: 'cpu',
    model: { path: modelDir },
    data: { train: ONES, reward: 'exact' },
    sampling: { group_size: G, prompts_per_step: 3, max_new_tokens: 3, temperature: 2 },
    optimizer: { lr: 0.01 },
    checkpoint_every: 0,
  });

describe('onCompletions', () => {
  it('hands over the first groups of each RL step with their reward, verdict and POPO weight', async () => {
    const seen: { step: number; samples: CompletionSample[] }[] = [];
    const metrics: StepMetrics[] = [];
    await train(config('popo'), {
      onStep: (m) => void metrics.push(m),
      onCompletions: (step, samples) => void seen.push({ step, samples }),
    });
    expect(seen.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(metrics).toHaveLength(3);
    for (const { samples } of seen) {
      expect(samples).toHaveLength(COMPLETION_GROUPS * G);
      expect(samples.map((x) => [x.group, x.sample])).toEqual(
        Array.from({ length: COMPLETION_GROUPS * G }, (_, r) => [Math.floor(r / G), r % G]),
      );
      for (const x of samples) {
        expect(ONES.map((e) => e.problem)).toContain(x.prompt);
        expect(x.answer).toBe('1');
        expect(x.positive).toBe(x.completion.trim() === '1');
        expect(x.reward).toBe(x.positive ? 1 : 0);
        // w lives on the positive set only, and each group's positives share a total weight of 1.
        if (!x.positive) expect(x.weight).toBe(0);
      }
      for (let g = 0; g < COMPLETION_GROUPS; g++) {
        const group = samples.filter((x) => x.group === g);
        const total = group.reduce((a, x) => a + (x.weight ?? 0), 0);
        expect(total).toBeCloseTo(group.some((x) => x.positive) ? 1 : 0, 5);
      }
    }
    expect(seen.flatMap((s) => s.samples).some((x) => x.positive)).toBe(true);
  });

  it('GRPO samples carry no weight, and listening changes nothing about the run', async () => {
    const withHook: StepMetrics[] = [];
    const samples: CompletionSample[] = [];
    await train(config('grpo'), {
      onStep: (m) => void withHook.push(m),
      onCompletions: (_s, x) => void samples.push(...x),
    });
    const without: StepMetrics[] = [];
    await train(config('grpo'), { onStep: (m) => void without.push(m) });
    expect(samples.length).toBe(3 * COMPLETION_GROUPS * G);
    expect(samples.every((x) => x.weight === null)).toBe(true);
    const strip = ({ step_seconds: _a, tokens_per_second: _b, ...rest }: StepMetrics) => rest;
    expect(withHook.map(strip)).toEqual(without.map(strip));
  });
});
