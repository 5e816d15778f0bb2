/**
 * POPO vs GRPO vs POPO ablations (α=0, β=0, ξ frozen, uniform weights) on two difficulty levels, 3 seeds each, on CPU.
 *
 *   node --import ./bench/register.mjs bench/experiment.ts [--out runs/experiment] [--docs docs/experiments]
 *        [--steps 80] [--seeds 0,1,2] [--difficulties 2,3] [--variants popo,grpo,popo-alpha0,popo-beta0,popo-noema,popo-uniform]
 *        [--parallel 2] [--eval-every 10] [--plots-only]
 *   node --import ./bench/register.mjs bench/experiment.ts --cold-start   (the zero-positive entropy check, ~1 min)
 *
 * Per (difficulty, seed) one weak base is built by SFT (bench/experiment-regime.ts); every variant starts from that
 * same base, so variants are compared pairwise. Each run is a child process (at most --parallel at once) writing
 * metrics.jsonl, eval.jsonl and result.json into <out>/d<d>/seed<s>/<variant>/; finished runs are skipped when the
 * script is started again. At the end: results.json and results.md (a table) in <out>, and one PNG of curves per
 * difficulty in --docs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/learner/backend.js';
import { sha256 } from '../src/learner/trainer/checkpoint.js';
import { isRlMetrics, type PopoMetrics, type RlMetrics } from '../src/learner/trainer/metrics.js';
import type { EvalResult } from '../src/learner/trainer/types.js';
import { panelsSpec, renderSvg, svgToPng, type Panel, type Point } from '../src/report/plot.js';
import {
  buildWeakBase,
  greedyPassRate,
  HELD_OUT_EVAL,
  REGIME_TASK,
  rlConfig,
  runRl,
} from './experiment-regime.js';

/** The compared algorithms: a config patch on top of the regime's RL config. */
const VARIANTS: Record<
  string,
  { label: string; algorithm: 'popo' | 'grpo'; extra?: Record<string, unknown>; plot?: false }
> = {
  popo: { label: 'POPO', algorithm: 'popo' },
  grpo: { label: 'GRPO', algorithm: 'grpo' },
  'popo-alpha0': { label: 'POPO α=0', algorithm: 'popo', extra: { popo: { alpha: 0 } } },
  'popo-beta0': { label: 'POPO β=0', algorithm: 'popo', extra: { popo: { beta: 0 } } },
  'popo-noema': { label: 'POPO ξ frozen', algorithm: 'popo', extra: { popo: { ema: false } } },
  // On a task with one correct answer string every positive of a group is the same sequence, so softmax weights
  // are exactly uniform: this run repeats POPO's bit for bit and is left out of the plots.
  'popo-uniform': {
    label: 'POPO uniform w',
    algorithm: 'popo',
    extra: { popo: { weight_mode: 'uniform' } },
    plot: false,
  },
};

interface Job {
  kind: 'base' | 'rl';
  difficulty: number;
  seed: number;
  variant?: string;
  steps: number;
  evalEvery: number;
  /** The base: SFT with a cosine schedule over `sftHorizon` steps, stopped at `targetPassRate`. */
  sftHorizon: number;
  targetPassRate: number;
  dir: string;
  baseDir: string;
}

interface BaseRecord {
  modelDir: string;
  greedy: number;
  trainPassRate?: number;
  sftSteps: number;
  seconds: number;
  sha256: string;
}

interface RunRecord {
  difficulty: number;
  seed: number;
  variant: string;
  before: EvalResult;
  after: EvalResult;
  greedyBefore: number;
  greedyAfter: number;
  seconds: number;
}

const readJsonl = <T>(path: string): T[] =>
  existsSync(path)
    ? readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as T)
    : [];

const say = (line: string) => process.stdout.write(line + '\n');

// ---------------------------------------------------------------------------------------------------------------
// Child side: one base or one RL run.

async function runJob(job: Job): Promise<void> {
  await initBackend('wasm');
  const tag = `[d${job.difficulty} s${job.seed} ${job.variant ?? 'base'}]`;
  mkdirSync(job.dir, { recursive: true });
  if (job.kind === 'base') {
    const base = await buildWeakBase({
      difficulty: job.difficulty,
      seed: job.seed,
      sftSteps: job.sftHorizon,
      targetPassRate: job.targetPassRate,
      dir: job.dir,
    });
    writeFileSync(join(job.dir, 'base.safetensors'), base.checkpoint.bytes);
    const rec: BaseRecord = {
      modelDir: base.modelDir,
      greedy: base.greedy,
      trainPassRate: base.trainPassRate,
      sftSteps: base.sftSteps,
      seconds: base.seconds,
      sha256: base.checkpoint.sha256,
    };
    writeFileSync(join(job.dir, 'base.json'), JSON.stringify(rec, null, 2));
    say(
      `${tag} SFT stopped at step ${base.sftSteps}: sampled train pass ${base.trainPassRate?.toFixed(2) ?? 'not reached'}, ` +
        `held-out greedy ${(100 * base.greedy).toFixed(1)}% (${base.seconds.toFixed(0)} s)`,
    );
    return;
  }
  const baseRec = JSON.parse(readFileSync(join(job.baseDir, 'base.json'), 'utf8')) as BaseRecord;
  const bytes = new Uint8Array(readFileSync(join(job.baseDir, 'base.safetensors')));
  const checkpoint = { step: 0, bytes, sha256: sha256(bytes) };
  const v = VARIANTS[job.variant!];
  const config = rlConfig(baseRec.modelDir, v.algorithm, {
    difficulty: job.difficulty,
    seed: job.seed,
    steps: job.steps,
    evalEvery: job.evalEvery,
    extra: v.extra,
  });
  writeFileSync(join(job.dir, 'metrics.jsonl'), '');
  writeFileSync(join(job.dir, 'eval.jsonl'), '');
  let lastEval = '';
  const out = await runRl({ ...baseRec, checkpoint }, config, {
    onStep: (m) => {
      writeFileSync(join(job.dir, 'metrics.jsonl'), JSON.stringify(m) + '\n', { flag: 'a' });
      if (isRlMetrics(m) && (m.step % job.evalEvery === 0 || m.step === job.steps))
        say(
          `${tag} step ${m.step}/${job.steps}  train pass ${m.pass_rate.toFixed(2)}  zero-pos groups ` +
            `${m.zero_correct_group_fraction.toFixed(2)}  entropy ${m.entropy.toFixed(2)}${lastEval}`,
        );
    },
    onEval: (e) => {
      writeFileSync(join(job.dir, 'eval.jsonl'), JSON.stringify(e) + '\n', { flag: 'a' });
      lastEval = `  held-out avg@4 ${e.avg_at_k.toFixed(3)} (step ${e.step})`;
    },
  });
  const greedyAfter = await greedyPassRate(out.final, config);
  const rec: RunRecord = {
    difficulty: job.difficulty,
    seed: job.seed,
    variant: job.variant!,
    before: out.before,
    after: out.after,
    greedyBefore: baseRec.greedy,
    greedyAfter,
    seconds: out.seconds,
  };
  writeFileSync(join(job.dir, 'result.json'), JSON.stringify(rec, null, 2));
  say(
    `${tag} done in ${out.seconds.toFixed(0)} s: held-out avg@4 ${(100 * out.before.avg_at_k).toFixed(1)}% → ` +
      `${(100 * out.after.avg_at_k).toFixed(1)}%, greedy ${(100 * baseRec.greedy).toFixed(1)}% → ${(100 * greedyAfter).toFixed(1)}%`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Parent side: schedule children, then aggregate and plot.

function spawnJob(job: Job): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', './bench/register.mjs', 'bench/experiment.ts', '--job', JSON.stringify(job)],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolvePromise() : reject(new Error(`job ${JSON.stringify(job)} exited with ${code}`)),
    );
  });
}

async function pool(jobs: Job[], parallel: number, label: string): Promise<void> {
  let next = 0;
  let done = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      await spawnJob(job);
      done += 1;
      const elapsed = (performance.now() - started) / 1000;
      const eta = (elapsed / done) * (jobs.length - done);
      say(
        `== ${label}: ${done}/${jobs.length} done, ${elapsed.toFixed(0)} s elapsed, ~${eta.toFixed(0)} s left`,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
const sd = (xs: number[]) => {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
};
const pct = (x: number) => (100 * x).toFixed(1);

/** Mean over seeds of a per-step series, step by step (runs of a variant share their step grid). */
function meanSeries(runs: { x: number; y: number }[][], series: string, smooth = 1): Point[] {
  const byX = new Map<number, number[]>();
  for (const run of runs) for (const p of run) byX.set(p.x, [...(byX.get(p.x) ?? []), p.y]);
  const xs = [...byX.keys()].sort((a, b) => a - b);
  const ys = xs.map((x) => mean(byX.get(x)!));
  // A centred moving average: rollout statistics of 16 prompts are noisy step to step.
  const h = Math.floor(smooth / 2);
  return xs.map((x, i) => {
    const win = ys.slice(Math.max(0, i - h), i + h + 1);
    return { x, y: mean(win), series };
  });
}

const popoOnly = (ms: RlMetrics[]) => ms.filter((m): m is PopoMetrics => m.algorithm === 'popo');

interface Loaded {
  variant: string;
  seed: number;
  metrics: RlMetrics[];
  evals: EvalResult[];
  result: RunRecord;
}

function summarise(
  difficulty: number,
  variants: string[],
  runs: Loaded[],
): { rows: Record<string, unknown>[]; table: string } {
  const head =
    `| variant | held-out avg@4: base → after (sd) | gain, points (sd) | gain per seed | greedy: base → after | ` +
    `step reaching +15 pts, per seed | zero-positive groups | final entropy | final ‖θ−ξ‖ (max drift/bound) |\n` +
    `|---|---|---|---|---|---|---|---|---|\n`;
  const rows: Record<string, unknown>[] = [];
  let body = '';
  for (const v of variants) {
    const rs = runs.filter((r) => r.variant === v);
    if (!rs.length) continue;
    const before = rs.map((r) => r.result.before.avg_at_k);
    const after = rs.map((r) => r.result.after.avg_at_k);
    const gains = rs.map((r) => r.result.after.avg_at_k - r.result.before.avg_at_k);
    const reach = rs.map((r) => {
      const hit = r.evals.find((e) => e.step > 0 && e.avg_at_k - r.result.before.avg_at_k >= 0.15);
      return hit ? hit.step : Number.POSITIVE_INFINITY;
    });
    // The tasks' rewards are 0/1, so a group without a correct completion is a group without a positive.
    const zeroPos = rs.map((r) => mean(r.metrics.map((m) => m.zero_correct_group_fraction)));
    const entropy = rs.map((r) => r.metrics.at(-1)?.entropy ?? Number.NaN);
    // ξ frozen has no finite bound (τ = 1): its metrics carry null there.
    const bounded = (m: RlMetrics): m is PopoMetrics =>
      m.algorithm === 'popo' && Number.isFinite(m.drift_bound) && m.drift_bound > 0;
    const driftRatio = rs.flatMap((r) => r.metrics.filter(bounded).map((m) => m.drift / m.drift_bound));
    const isPopo = VARIANTS[v].algorithm === 'popo';
    const row = {
      difficulty,
      variant: v,
      seeds: rs.map((r) => r.seed),
      before_mean: mean(before),
      after_mean: mean(after),
      after_sd: sd(after),
      gain_mean: mean(gains),
      gain_sd: sd(gains),
      gains,
      greedy_before: mean(rs.map((r) => r.result.greedyBefore)),
      greedy_after: mean(rs.map((r) => r.result.greedyAfter)),
      reach_15: reach,
      zero_positive_mean: mean(zeroPos),
      final_entropy: mean(entropy),
      max_drift_over_bound: isPopo && driftRatio.length ? Math.max(...driftRatio) : null,
      final_drift: isPopo ? mean(rs.map((r) => popoOnly(r.metrics).at(-1)?.drift ?? 0)) : null,
    };
    rows.push(row);
    const signed = (x: number) => `${x >= 0 ? '+' : ''}${pct(x)}`;
    body +=
      `| ${VARIANTS[v].label} | ${pct(row.before_mean)} → ${pct(row.after_mean)} (${pct(row.after_sd)}) | ` +
      `${signed(row.gain_mean)} (${pct(row.gain_sd)}) | ${gains.map(signed).join(', ')} | ` +
      `${pct(row.greedy_before)} → ${pct(row.greedy_after)} | ` +
      `${reach.map((x) => (Number.isFinite(x) ? String(x) : 'never')).join(', ')} | ` +
      `${row.zero_positive_mean.toFixed(2)} | ${row.final_entropy.toFixed(2)} | ` +
      `${row.final_drift === null ? '—' : row.final_drift.toFixed(2)}` +
      `${row.max_drift_over_bound === null ? (row.final_drift === null ? '' : ' (no bound: τ=1)') : ` (${row.max_drift_over_bound.toFixed(3)})`} |\n`;
  }
  return { rows, table: head + body };
}

function panels(all: string[], runs: Loaded[]): Panel[] {
  const variants = all.filter((v) => VARIANTS[v].plot !== false);
  const pick = (v: string) => runs.filter((r) => r.variant === v);
  const step = (key: keyof RlMetrics, smooth = 1) =>
    variants.flatMap((v) =>
      meanSeries(
        pick(v).map((r) => r.metrics.map((m) => ({ x: m.step, y: Number(m[key]) }))),
        VARIANTS[v].label,
        smooth,
      ),
    );
  const popoVariants = variants.filter((v) => VARIANTS[v].algorithm === 'popo');
  return [
    {
      title: 'Held-out avg@4 at T=1 (mean of seeds)',
      y: 'pass rate',
      points: variants.flatMap((v) =>
        meanSeries(
          pick(v).map((r) => r.evals.map((e) => ({ x: e.step, y: e.avg_at_k }))),
          VARIANTS[v].label,
        ),
      ),
    },
    { title: 'Train pass rate of rollouts (5-step mean)', y: 'pass rate', points: step('pass_rate', 5) },
    { title: 'Entropy of sampled tokens (nats)', y: 'entropy', points: step('entropy') },
    {
      title: 'Zero-positive groups (5-step mean)',
      y: 'fraction of groups',
      points: step('zero_correct_group_fraction', 5),
    },
    {
      title: 'Drift ‖θ−ξ‖ vs Lemma 3.2 bound τηG_max/(1−τ)',
      y: 'L2 norm',
      log: true,
      points: popoVariants.flatMap((v) => [
        ...meanSeries(
          pick(v).map((r) => popoOnly(r.metrics).map((m) => ({ x: m.step, y: m.drift }))),
          `${VARIANTS[v].label} ‖θ−ξ‖`,
        ),
        ...meanSeries(
          pick(v).map((r) => popoOnly(r.metrics).map((m) => ({ x: m.step, y: Number(m.drift_bound) }))),
          `${VARIANTS[v].label} bound`,
        ),
      ]),
    },
    {
      // The means hide how differently seeds go: each seed's base is its own.
      title: 'Held-out avg@4 per seed: POPO vs GRPO',
      y: 'pass rate',
      points: ['popo', 'grpo']
        .filter((v) => variants.includes(v))
        .flatMap((v) =>
          pick(v).flatMap((r) =>
            r.evals.map((e) => ({ x: e.step, y: e.avg_at_k, series: `${VARIANTS[v].label} seed ${r.seed}` })),
          ),
        ),
    },
  ];
}

async function report(
  out: string,
  docs: string,
  difficulties: number[],
  seeds: number[],
  variants: string[],
): Promise<void> {
  const allRows: Record<string, unknown>[] = [];
  let md = `# POPO vs GRPO: results\n\nTask \`${REGIME_TASK.name}\`; held-out avg@4 at T=1 on ${REGIME_TASK.n_test} test problems; seeds ${seeds.join(', ')}.\n`;
  mkdirSync(docs, { recursive: true });
  for (const d of difficulties) {
    const runs: Loaded[] = [];
    for (const seed of seeds)
      for (const v of variants) {
        const dir = join(out, `d${d}`, `seed${seed}`, v);
        if (!existsSync(join(dir, 'result.json'))) continue;
        runs.push({
          variant: v,
          seed,
          metrics: readJsonl<RlMetrics>(join(dir, 'metrics.jsonl')),
          evals: readJsonl<EvalResult>(join(dir, 'eval.jsonl')),
          result: JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as RunRecord,
        });
      }
    if (!runs.length) continue;
    const { rows, table } = summarise(d, variants, runs);
    allRows.push(...rows);
    let bases =
      `| seed | SFT steps | sampled train pass at stop | held-out greedy | held-out avg@4 (T=1) |\n` +
      `|---|---|---|---|---|\n`;
    for (const seed of seeds) {
      const file = join(out, `d${d}`, `seed${seed}`, 'base', 'base.json');
      const first = runs.find((r) => r.seed === seed);
      if (!existsSync(file) || !first) continue;
      const b = JSON.parse(readFileSync(file, 'utf8')) as BaseRecord;
      bases +=
        `| ${seed} | ${b.sftSteps} | ${b.trainPassRate === undefined ? 'not reached' : pct(b.trainPassRate)} | ` +
        `${pct(b.greedy)} | ${pct(first.result.before.avg_at_k)} |\n`;
    }
    md += `\n## Difficulty ${d}\n\nBases:\n\n${bases}\nAfter RL:\n\n${table}`;
    const title = `${REGIME_TASK.name} difficulty ${d}: POPO vs GRPO vs ablations (${seeds.length} seeds)`;
    const png = await svgToPng(await renderSvg(panelsSpec(title, panels(variants, runs))));
    if (png) {
      const file = join(docs, `popo-vs-grpo-d${d}.png`);
      writeFileSync(file, png);
      say(`wrote ${file}`);
    }
  }
  writeFileSync(join(out, 'results.json'), JSON.stringify(allRows, null, 2));
  writeFileSync(join(out, 'results.md'), md);
  say(`\n${md}\nwrote ${join(out, 'results.md')} and results.json`);
}

/**
 * Cold start: from a base that solves nothing (SFT stopped at a fixed 300 steps, before `reverse` difficulty 3 is
 * learned), every group has zero positives. GRPO's advantages are then 0 and POPO's NLL and L_sim are 0, but
 * POPO's entropy bonus is not, and Adam rescales that small gradient to a full-size step. Runs 10 steps of each
 * and records the entropy of the sampled tokens.
 */
async function coldStart(out: string, docs: string): Promise<void> {
  await initBackend('wasm');
  const dir = join(out, 'cold-start');
  const base = await buildWeakBase({ difficulty: 3, seed: 0, sftSteps: 300, dir });
  const rows: { variant: string; entropy: number[]; grad: number[]; pass: number[] }[] = [];
  for (const v of ['popo', 'popo-beta0', 'grpo']) {
    const config = rlConfig(base.modelDir, VARIANTS[v].algorithm, {
      difficulty: 3,
      seed: 0,
      steps: 10,
      extra: { ...VARIANTS[v].extra, eval: { ...HELD_OUT_EVAL, max_examples: 50 } },
    });
    const run = await runRl(base, config);
    rows.push({
      variant: v,
      entropy: run.metrics.map((m) => m.entropy),
      grad: run.metrics.map((m) => m.grad_norm),
      pass: run.metrics.map((m) => m.pass_rate),
    });
    say(
      `[cold start] ${VARIANTS[v].label}: entropy ${run.metrics.map((m) => m.entropy.toFixed(2)).join(' ')}`,
    );
  }
  const md =
    `# Cold start: entropy of sampled tokens from a base that solves nothing\n\n` +
    `Base: reverse difficulty 3, SFT 300 steps (seed 0), held-out greedy ${pct(base.greedy)}%. ` +
    `Uniform over the 64-token vocabulary is ${Math.log(64).toFixed(2)} nats.\n\n` +
    `| variant | entropy at steps 1..10 | train pass rate, steps 1..10 | grad norm, steps 2..10 |\n|---|---|---|---|\n` +
    rows
      .map(
        (r) =>
          `| ${VARIANTS[r.variant].label} | ${r.entropy.map((x) => x.toFixed(2)).join(' ')} | ` +
          `${r.pass.map((x) => x.toFixed(3)).join(' ')} | ${r.grad
            .slice(1)
            .map((x) => x.toFixed(3))
            .join(' ')} |`,
      )
      .join('\n') +
    '\n';
  writeFileSync(join(out, 'cold-start.md'), md);
  const title = 'Cold start (no positives): entropy under POPO, POPO β=0 and GRPO';
  const png = await svgToPng(
    await renderSvg(
      panelsSpec(title, [
        {
          title: 'Entropy of sampled tokens (nats)',
          y: 'entropy',
          points: rows.flatMap((r) =>
            r.entropy.map((y, i) => ({ x: i + 1, y, series: VARIANTS[r.variant].label })),
          ),
        },
        {
          title: 'Grad norm before clipping (log)',
          y: 'norm',
          log: true,
          points: rows.flatMap((r) =>
            r.grad.map((y, i) => ({ x: i + 1, y, series: VARIANTS[r.variant].label })),
          ),
        },
      ]),
    ),
  );
  if (png) writeFileSync(join(docs, 'cold-start-entropy.png'), png);
  say(
    `\n${md}\nwrote ${join(out, 'cold-start.md')}${png ? ` and ${join(docs, 'cold-start-entropy.png')}` : ''}`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      job: { type: 'string' },
      out: { type: 'string', default: 'runs/experiment' },
      docs: { type: 'string', default: 'docs/experiments' },
      steps: { type: 'string', default: '80' },
      seeds: { type: 'string', default: '0,1,2' },
      difficulties: { type: 'string', default: '2,3' },
      variants: { type: 'string', default: 'popo,grpo,popo-alpha0,popo-beta0,popo-noema,popo-uniform' },
      parallel: { type: 'string', default: '2' },
      'eval-every': { type: 'string', default: '10' },
      'target-pass-rate': { type: 'string', default: '0.2' },
      'sft-horizon': { type: 'string', default: '800' },
      'plots-only': { type: 'boolean', default: false },
      'cold-start': { type: 'boolean', default: false },
    },
  });
  if (values.job) return runJob(JSON.parse(values.job) as Job);

  const list = (s: string, field: string) =>
    s.split(',').map((x) => {
      const n = Number(x);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--${field}: expected integers, got "${x}"`);
      return n;
    });
  const out = resolve(values.out);
  const seeds = list(values.seeds, 'seeds');
  const difficulties = list(values.difficulties, 'difficulties');
  for (const d of difficulties)
    if (d < 1 || d > 4) throw new Error(`--difficulties: ${d} is not one of 1, 2, 3, 4`);
  const targetPassRate = Number(values['target-pass-rate']);
  if (!(targetPassRate > 0 && targetPassRate < 1))
    throw new Error(`--target-pass-rate: must be in (0, 1), got "${values['target-pass-rate']}"`);
  const sftHorizon = list(values['sft-horizon'], 'sft-horizon')[0];
  const variants = values.variants.split(',');
  for (const v of variants)
    if (!VARIANTS[v])
      throw new Error(`--variants: unknown "${v}" (known: ${Object.keys(VARIANTS).join(', ')})`);
  const steps = list(values.steps, 'steps')[0];
  const evalEvery = list(values['eval-every'], 'eval-every')[0];
  const parallel = Math.max(1, list(values.parallel, 'parallel')[0]);

  if (values['cold-start']) {
    mkdirSync(resolve(values.docs), { recursive: true });
    return coldStart(out, resolve(values.docs));
  }
  if (!values['plots-only']) {
    const baseDir = (d: number, s: number) => join(out, `d${d}`, `seed${s}`, 'base');
    const bases: Job[] = difficulties.flatMap((d) =>
      seeds.map((seed) => ({
        kind: 'base' as const,
        difficulty: d,
        seed,
        steps,
        evalEvery,
        sftHorizon,
        targetPassRate,
        dir: baseDir(d, seed),
        baseDir: baseDir(d, seed),
      })),
    );
    const rl: Job[] = difficulties.flatMap((d) =>
      seeds.flatMap((seed) =>
        variants.map((variant) => ({
          kind: 'rl' as const,
          difficulty: d,
          seed,
          variant,
          steps,
          evalEvery,
          sftHorizon,
          targetPassRate,
          dir: join(out, `d${d}`, `seed${seed}`, variant),
          baseDir: baseDir(d, seed),
        })),
      ),
    );
    const todoBases = bases.filter((j) => !existsSync(join(j.dir, 'base.json')));
    const todoRl = rl.filter((j) => !existsSync(join(j.dir, 'result.json')));
    say(
      `experiment → ${out}: ${bases.length} bases (${todoBases.length} to build), ${rl.length} RL runs ` +
        `(${todoRl.length} to run), ${parallel} at a time`,
    );
    await pool(todoBases, parallel, 'bases');
    await pool(todoRl, parallel, 'RL runs');
  }
  await report(out, resolve(values.docs), difficulties, seeds, variants);
}

await main();
