import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, resolveConfig } from '../learner/trainer/config.js';
import type { EvalResult, TrainConfig } from '../learner/trainer/types.js';
import { loadRunConfig } from './load-config.js';
import { reportConfigError, trainIntoFolder } from './train-command.js';

const examples = resolve(dirname(fileURLToPath(import.meta.url)), '../../..', 'examples');
const examplesDir = (): string => (examples.includes('/dist/') ? examples.replace('/dist/', '/') : examples);

/** --quick shrinks every budget so the whole pipeline runs in about a minute (used by the tests). */
const QUICK = ['steps=6', 'eval.max_examples=24', 'checkpoint_every=3'];

function load(name: string, extra: string[]): TrainConfig {
  return resolveConfig(loadRunConfig(join(examplesDir(), name), extra).raw);
}

const pct = (e?: EvalResult) => (e ? `${(100 * e.avg_at_k).toFixed(1)}%` : 'n/a');

/**
 * The main job on a fresh machine: SFT a tiny model into a weak base on a built-in task, then POPO on top of it,
 * printing the held-out pass rate before and after.
 */
export async function runDemo(opts: {
  out: string;
  quick?: boolean;
  backend?: TrainConfig['backend'];
}): Promise<number> {
  const extra = [...(opts.quick ? QUICK : []), ...(opts.backend ? [`backend=${opts.backend}`] : [])];
  let sft: TrainConfig;
  let popo: TrainConfig;
  try {
    sft = load('demo-sft.yaml', extra);
    popo = load('demo-popo.yaml', extra);
  } catch (e) {
    if (e instanceof ConfigError) return reportConfigError(e);
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const sftOut = join(opts.out, 'sft');
  process.stderr.write(
    `[1/2] SFT: building a weak base model on task "${sft.data.task?.name}" → ${sftOut}\n`,
  );
  const base = await trainIntoFolder(sft, sftOut, { label: 'sft' });

  popo.model = { path: join(sftOut, 'final') };
  const popoOut = join(opts.out, 'popo');
  process.stderr.write(`[2/2] POPO from the SFT base → ${popoOut}\n`);
  const rl = await trainIntoFolder(popo, popoOut, { label: 'popo' });

  const summary =
    `# popo demo\n\n` +
    `| stage | held-out pass rate (greedy, ${rl.result.eval_after?.examples ?? '?'} problems) |\n|---|---|\n` +
    `| SFT base (before POPO) | ${pct(rl.result.eval_before)} |\n` +
    `| after ${rl.result.steps_done} POPO steps | ${pct(rl.result.eval_after)} |\n\n` +
    `backend: ${rl.result.backend}; SFT curves: ${base.plots.join(', ')}; POPO curves: ${rl.plots.join(', ')}\n`;
  writeFileSync(join(opts.out, 'summary.md'), summary);
  process.stdout.write(
    `\nheld-out pass rate before POPO: ${pct(rl.result.eval_before)}\n` +
      `held-out pass rate after POPO:  ${pct(rl.result.eval_after)}\n` +
      `summary: ${join(opts.out, 'summary.md')}\n`,
  );
  return 0;
}
