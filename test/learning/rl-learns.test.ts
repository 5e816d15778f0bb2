/**
 * Issue 4's learning requirement: from a weak SFT base (fixed seed) on a small built-in task, POPO raises the
 * held-out pass rate by at least 15 points within a bounded number of steps, and so does the GRPO baseline.
 * Protocol (bench/experiment-regime.ts): `reverse` difficulty 2, 200 held-out problems, avg@4 at T = 1, 80 RL
 * steps of B 16 × G 8. Both algorithms start from the same base, built once.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/learner/backend.js';
import {
  buildWeakBase,
  greedyPassRate,
  passRate,
  rlConfig,
  runRl,
  type Base,
} from '../../bench/experiment-regime.js';
import { loadTrainingData } from '../../src/learner/trainer/data-source.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
let base: Base;

beforeAll(async () => {
  // The protocol was calibrated on stock wasm. This small model's SFT is chaotic: wasm+blas rounding (gradients
  // equal to 8e-7) alone lands the 300-step base elsewhere (docs/experiments). The demo covers wasm+blas learning.
  process.env.POPO_BLAS = '0';
  await initBackend('wasm');
  base = await buildWeakBase({ seed: 0 });
}, 240_000);

describe('RL learns from a weak SFT base', () => {
  it.each(['popo', 'grpo'] as const)(
    '%s raises the held-out sampled pass rate by ≥ 15 points in 80 steps',
    async (algorithm) => {
      const run = await runRl(base, rlConfig(base.modelDir, algorithm, { steps: 80, seed: 0 }));
      const greedyAfter = await greedyPassRate(run.final, run.config);
      console.log(
        `${algorithm.toUpperCase()}: held-out avg@4 (T=1) ${pct(run.before.avg_at_k)} → ${pct(run.after.avg_at_k)}, ` +
          `greedy ${pct(base.greedy)} → ${pct(greedyAfter)} (base ${base.seconds.toFixed(0)} s, RL ${run.seconds.toFixed(0)} s)`,
      );
      // The premise of the regime: the base is weak (most sampled answers wrong) but most groups hold a correct
      // (for these 0/1 rewards: positive) completion.
      expect(run.before.avg_at_k).toBeGreaterThan(0.1);
      expect(run.before.avg_at_k).toBeLessThan(0.5);
      const early = run.metrics.slice(0, 5);
      expect(early.reduce((a, m) => a + m.zero_correct_group_fraction, 0) / early.length).toBeLessThan(0.5);

      expect(run.after.avg_at_k - run.before.avg_at_k).toBeGreaterThanOrEqual(0.15);
      expect(greedyAfter).toBeGreaterThan(base.greedy);
    },
    240_000,
  );

  it('control: the same protocol with a learning rate of 1e-9 shows no such gain', async () => {
    // Proves the measurement above can fail: same base, same sampling, same evaluation, a policy that cannot move.
    const config = rlConfig(base.modelDir, 'popo', { steps: 80, seed: 0, lr: 1e-9 });
    const run = await runRl(base, config);
    console.log(`POPO lr 1e-9: held-out avg@4 ${pct(run.before.avg_at_k)} → ${pct(run.after.avg_at_k)}`);
    // The trainer's before/after evals draw different samples (their seeds differ by step), so their difference
    // holds ±2.3 points of sampling noise per eval pair; scoring both policies on the same draws leaves only
    // what the weights did, and that must be (almost) nothing.
    const heldOut = loadTrainingData(config).test;
    const protocol = { n: 4, temperature: 1 };
    const before = await passRate(base.checkpoint, config, heldOut, protocol);
    const after = await passRate(run.final, config, heldOut, protocol);
    console.log(`same draws: ${pct(before)} → ${pct(after)}`);
    expect(Math.abs(after - before)).toBeLessThan(0.02);
  }, 240_000);
});
