/**
 * Issue 4's learning requirement: from a weak SFT base on a small built-in task, POPO raises the held-out pass
 * rate by at least 15 points within a bounded number of steps, and so does the GRPO baseline. Protocol
 * (bench/experiment-regime.ts): `reverse` difficulty 2, 200 held-out problems, avg@4 at T = 1, 80 RL steps of
 * B 16 × G 8, seeds 0–2 (one base per seed, built once; both algorithms start from it); the mean gain counts.
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
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const SEEDS = [0, 1, 2];
const STEPS = 160;
let bases: Base[];

beforeAll(async () => {
  // This small model's SFT is chaotic: a change in the last bits of any kernel (BLAS rounding or its thread
  // count, a fused kernel) lands a fixed 300-step base anywhere from hopeless (5%) to half solved, and one 80-step
  // RL run from one base moved by +10 or +44 points. So each base is defined by what it does, not by a step
  // count (SFT, cosine over 1,000 steps, stops at the first check — every 10 steps — where the sampled pass rate on
  // 64 training problems reaches 20%: bench/experiment-regime.ts), and the claim is about the mean over three
  // seeds, each its own base and RL run.
  await initBackend('wasm');
  bases = [];
  for (const seed of SEEDS) bases.push(await buildWeakBase({ seed, sftSteps: 1000, targetPassRate: 0.2 }));
}, 600_000);

describe('RL learns from a weak SFT base (mean of three seeds)', () => {
  it.each(['popo', 'grpo'] as const)(
    `%s raises the held-out sampled pass rate by ≥ 15 points in ${STEPS} steps`,
    async (algorithm) => {
      const runs = [];
      for (const [i, base] of bases.entries()) {
        const run = await runRl(base, rlConfig(base.modelDir, algorithm, { steps: STEPS, seed: SEEDS[i] }));
        const greedyAfter = await greedyPassRate(run.final, run.config);
        console.log(
          `${algorithm.toUpperCase()} seed ${SEEDS[i]}: held-out avg@4 (T=1) ${pct(run.before.avg_at_k)} → ` +
            `${pct(run.after.avg_at_k)}, greedy ${pct(base.greedy)} → ${pct(greedyAfter)} ` +
            `(base ${base.sftSteps} SFT steps, ${base.seconds.toFixed(0)} s; RL ${run.seconds.toFixed(0)} s)`,
        );
        runs.push({ run, greedyBefore: base.greedy, greedyAfter });
      }
      const before = mean(runs.map((r) => r.run.before.avg_at_k));
      const after = mean(runs.map((r) => r.run.after.avg_at_k));
      console.log(`${algorithm.toUpperCase()} mean: ${pct(before)} → ${pct(after)}`);
      // The premise of the regime: the bases are weak (most sampled answers wrong) but most groups hold a correct
      // (for these 0/1 rewards: positive) completion.
      expect(before).toBeGreaterThan(0.1);
      expect(before).toBeLessThan(0.5);
      const early = runs.flatMap((r) => r.run.metrics.slice(0, 5));
      expect(mean(early.map((m) => m.zero_correct_group_fraction))).toBeLessThan(0.5);

      expect(after - before).toBeGreaterThanOrEqual(0.15);
      expect(mean(runs.map((r) => r.greedyAfter))).toBeGreaterThan(mean(runs.map((r) => r.greedyBefore)));
    },
    600_000,
  );

  it('control: the same protocol with a learning rate of 1e-9 shows no such gain', async () => {
    // Proves the measurement above can fail: same base, same sampling, same evaluation, a policy that cannot move.
    const base = bases[0];
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
