import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatBackendInfo, initBackend } from '../learner/backend.js';
import { ConfigError } from '../learner/trainer/config.js';
import { loadTrainingData } from '../learner/trainer/data-source.js';
import { evaluatePolicy } from '../learner/trainer/evaluate.js';
import { loadPolicy } from '../learner/trainer/policy-source.js';
import type { EvalResult, TrainConfig } from '../learner/trainer/types.js';
import { loadRunConfig } from './load-config.js';
import { reportConfigError, trainIntoFolder } from './train-command.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository's examples/: two levels up from src/cli, three from the built dist/src/cli. */
const examplesDir = (): string =>
  [resolve(here, '../..', 'examples'), resolve(here, '../../..', 'examples')].find((d) =>
    existsSync(join(d, 'demo-sft.yaml')),
  ) ?? resolve(here, '../..', 'examples');

/**
 * --quick (the smoke test) keeps the SFT base as it is (~15 s) and cuts POPO to 40 steps and the evaluations to
 * 50 problems: the whole pipeline in about half a minute. Too short to show a reliable gain (the full demo's
 * held-out avg@4 moves little before step 40, then climbs).
 */
const QUICK_SFT = ['eval.max_examples=50'];
const QUICK_POPO = ['steps=40', 'eval_every=20', 'checkpoint_every=20', 'eval.max_examples=50'];

function load(name: string, extra: string[]): TrainConfig {
  return loadRunConfig(join(examplesDir(), name), extra).config;
}

const pct = (x?: number) => (x === undefined ? 'n/a' : `${(100 * x).toFixed(1)}%`);

/** Greedy held-out pass rate of an exported model directory, on the config's test split. */
async function greedy(modelDir: string, config: TrainConfig): Promise<number> {
  const policy = await loadPolicy({ path: modelDir }, config.seed);
  try {
    const data = loadTrainingData(config);
    const r = await evaluatePolicy(policy, data.test, data.reward, {
      n: 1,
      k: 1,
      temperature: 0,
      max_examples: config.eval.max_examples,
      maxNewTokens: config.sampling.max_new_tokens,
      seed: config.seed,
    });
    return r.avg_at_k;
  } finally {
    policy.model.dispose();
  }
}

/**
 * The main job on a fresh machine: SFT a small model into a weak base on a built-in task, then POPO on top of it,
 * printing the held-out pass rate before and after.
 */
export async function runDemo(opts: {
  out: string;
  quick?: boolean;
  backend?: TrainConfig['backend'];
}): Promise<number> {
  const backend = opts.backend ? [`backend=${opts.backend}`] : [];
  let sft: TrainConfig;
  let popo: TrainConfig;
  try {
    sft = load('demo-sft.yaml', [...(opts.quick ? QUICK_SFT : []), ...backend]);
    popo = load('demo-popo.yaml', [...(opts.quick ? QUICK_POPO : []), ...backend]);
  } catch (e) {
    if (e instanceof ConfigError) return reportConfigError(e);
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  // The line says when the native fast path is missing and how to install it.
  process.stderr.write(`backend: ${formatBackendInfo(await initBackend(sft.backend ?? 'auto'))}\n`);
  const sftOut = join(opts.out, 'sft');
  process.stderr.write(
    `[1/2] SFT: building a weak base model on task "${sft.data.task?.name}" → ${sftOut}\n`,
  );
  const base = await trainIntoFolder(sft, sftOut, { label: 'sft' });

  popo.model = { path: join(sftOut, 'final') };
  const popoOut = join(opts.out, 'popo');
  process.stderr.write(`[2/2] POPO from the SFT base → ${popoOut}\n`);
  const rl = await trainIntoFolder(popo, popoOut, { label: 'popo' });
  const before: EvalResult | undefined = rl.result.eval_before;
  const after: EvalResult | undefined = rl.result.eval_after;
  // The SFT stage's own eval is sampled (its early-stop rule), so the base's greedy rate is measured here.
  const greedyBefore =
    base.result.status === 'completed' ? await greedy(join(sftOut, 'final'), popo) : undefined;
  const greedyAfter =
    rl.result.status === 'completed' ? await greedy(join(popoOut, 'final'), popo) : undefined;

  const k = after?.k ?? popo.eval.k;
  const protocol =
    `${after?.examples ?? '?'} held-out problems; avg@${k} and pass@${k} from ${after?.n ?? popo.eval.n} ` +
    `samples per problem at T=${popo.eval.temperature}; greedy is one decode per problem`;
  const summary =
    `# popo demo\n\n${protocol}\n\n` +
    `| stage | avg@${k} | pass@${k} | greedy |\n|---|---|---|---|\n` +
    `| SFT base (before POPO) | ${pct(before?.avg_at_k)} | ${pct(before?.pass_at_k)} | ${pct(greedyBefore)} |\n` +
    `| after ${rl.result.steps_done} POPO steps | ${pct(after?.avg_at_k)} | ${pct(after?.pass_at_k)} | ${pct(greedyAfter)} |\n\n` +
    `backend: ${rl.result.backend}; SFT curves: ${base.plots.join(', ')}; POPO curves: ${rl.plots.join(', ')}\n`;
  writeFileSync(join(opts.out, 'summary.md'), summary);
  process.stdout.write(
    `\n${protocol}\n` +
      `held-out pass rate before POPO: avg@${k} ${pct(before?.avg_at_k)}  pass@${k} ${pct(before?.pass_at_k)}  greedy ${pct(greedyBefore)}\n` +
      `held-out pass rate after POPO:  avg@${k} ${pct(after?.avg_at_k)}  pass@${k} ${pct(after?.pass_at_k)}  greedy ${pct(greedyAfter)}\n` +
      `summary: ${join(opts.out, 'summary.md')}\n`,
  );
  return 0;
}
