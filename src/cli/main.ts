#!/usr/bin/env node
import { Command, Option } from 'commander';
import { BACKENDS, PROMPT_TEMPLATES } from '../learner/trainer/run-spec.js';
import { runDemo } from './demo.js';
import { runEval } from './eval-command.js';
import { registerJobCommands } from './jobs-command.js';
import { runTrain } from './train-command.js';

// `popo jobs list | head -1`: once the reader has gone, the rest of the output has nowhere to go; stop quietly
// instead of dying on an unhandled EPIPE with a stack trace.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

const program = new Command()
  .name('popo')
  .description(
    'Train language models with POPO (Positive-Only Policy Optimization), GRPO or SFT, in-process.',
  )
  .showHelpAfterError();

const backendOption = new Option('--backend <name>', BACKENDS.join(' | ')).choices(BACKENDS);

const collect = (v: string, prev: string[]) => [...prev, v];

for (const algorithm of ['train', 'sft'] as const) {
  program
    .command(algorithm)
    .description(
      algorithm === 'train' ? 'Run POPO or GRPO (the config says which)' : 'Supervised fine-tuning',
    )
    .requiredOption('-c, --config <file>', 'run config (YAML or JSON)')
    .option('-o, --out <dir>', 'run folder (default runs/<config name>)')
    .option('-s, --set <key=value>', 'override a config value, e.g. --set popo.alpha=0', collect, [])
    .option('--resume <checkpoint>', 'resume from a checkpoint file of this run (.safetensors)')
    .option(
      '--init <model-dir>',
      'start from this model directory (e.g. an earlier run`s final/) instead of the document`s model',
    )
    .option('--quiet', 'no progress bar')
    .option(
      '--check',
      'validate the document, its data files and (when the model is here) its prompts against the model; no training',
    )
    .addOption(backendOption)
    .action(async (opts) => {
      process.exitCode = await runTrain({ ...opts, forceAlgorithm: algorithm === 'sft' ? 'sft' : undefined });
    });
}

program
  .command('eval')
  .description('pass@k and avg@k of a model on a JSONL file (problem, answer) or a built-in task')
  .option('--model <dir>', 'HF-format model directory')
  .option('--builtin <name>', 'built-in model (random weights), e.g. tiny-1m')
  .option('--data <file>', 'JSONL with problem and answer')
  .option('--task <name:difficulty>', 'built-in task test split, e.g. add:2')
  .option('-n, --n <n>', 'samples per problem', '1')
  .option('-k, --k <k>', 'k of pass@k', '1')
  .option('-t, --temperature <t>', 'sampling temperature (0 = greedy)', '0')
  .option('--top-p <p>', 'nucleus sampling mass (1 = off; the authors evaluate at 0.95 with -t 0.7)')
  .option('--max-new-tokens <n>', 'completion length limit', '32')
  .option('--limit <n>', 'at most this many problems')
  .option('--seed <n>', 'random seed', '0')
  .addOption(
    new Option('--prompt-template <name>', 'how a problem becomes the prompt (data.prompt_template)')
      .choices(PROMPT_TEMPLATES)
      .default('none'),
  )
  .option(
    '--overlong <policy>',
    'prompts with no room for --max-new-tokens in the context: error | skip | truncate_left',
    'error',
  )
  .addOption(backendOption)
  .action(async (opts) => {
    process.exitCode = await runEval(opts);
  });

program
  .command('demo')
  .description(
    'The main job: build a weak base model by SFT on a built-in task, then POPO; prints held-out pass rates',
  )
  .option('-o, --out <dir>', 'where the runs go', 'runs/demo')
  .option('--quick', 'a much shorter run (smoke test)')
  .addOption(backendOption)
  .action(async (opts) => {
    process.exitCode = await runDemo(opts);
  });

registerJobCommands(program);

await program.parseAsync();
