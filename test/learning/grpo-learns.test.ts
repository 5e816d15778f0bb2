/**
 * The baseline must learn in the same regime as POPO (test/learning/popo-learns.test.ts): from the same weak SFT
 * base, GRPO raises the held-out avg@4 at T = 1 by at least 15 points within 80 steps.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/learner/backend.js';
import { buildWeakBase, greedyPassRate, rlConfig, runRl, type Base } from '../../bench/experiment-regime.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
let base: Base;

beforeAll(async () => {
  await initBackend('wasm');
  base = await buildWeakBase({ seed: 0 });
}, 240_000);

describe('GRPO learns', () => {
  it('raises the held-out sampled pass rate by ≥ 15 points in 80 steps from a weak SFT base', async () => {
    const run = await runRl(base, rlConfig(base.modelDir, 'grpo', { steps: 80, seed: 0 }));
    const greedyAfter = await greedyPassRate(run.final, run.config);
    console.log(
      `GRPO: held-out avg@4 (T=1) ${pct(run.before.avg_at_k)} → ${pct(run.after.avg_at_k)}, ` +
        `greedy ${pct(base.greedy)} → ${pct(greedyAfter)} (base ${base.seconds.toFixed(0)} s, RL ${run.seconds.toFixed(0)} s)`,
    );
    expect(run.before.avg_at_k).toBeGreaterThan(0.1);
    expect(run.before.avg_at_k).toBeLessThan(0.5);
    expect(run.after.avg_at_k - run.before.avg_at_k).toBeGreaterThanOrEqual(0.15);
    expect(greedyAfter).toBeGreaterThan(base.greedy);
  }, 240_000);
});
