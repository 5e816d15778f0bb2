import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OutboundPolicy } from '../common/ssrf-guard.js';
import { ConfigError } from '../learner/trainer/config.js';
import {
  contextIssues,
  modelContext,
  modelTokenizer,
  overlongIssues,
} from '../learner/trainer/context-check.js';
import { FieldError } from '../learner/field-error.js';
import { CheckpointError, exportAdapter, exportPolicy } from '../learner/trainer/checkpoint.js';
import { train } from '../learner/trainer/train.js';
import type { StopSignal, TrainConfig, TrainResult } from '../learner/trainer/types.js';
import { loadRunConfig } from './load-config.js';
import { StepProgress } from './progress.js';
import { RunFolder } from './run-folder.js';

export interface TrainCommandOptions {
  config: string;
  out?: string;
  set?: string[];
  resume?: string;
  quiet?: boolean;
  backend?: TrainConfig['backend'];
  forceAlgorithm?: 'sft';
  /** Start from this model directory (e.g. an earlier run's final/) instead of the document's model. */
  init?: string;
  /** Validate the document (and the data files, and the prompts against the model when it is here); no training. */
  check?: boolean;
}

/** Prints config problems the way a person fixes them: one field per line. */
export function reportConfigError(e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write('invalid config:\n' + e.issues.map((i) => `  ${i.field}: ${i.reason}\n`).join(''));
    return 2;
  }
  throw e;
}

/**
 * `popo train --check`: the checks a job gets at creation, without training. The document's fields, bounds and
 * cross-field rules and its data files through the row mapping were checked by loading it; here the prompts are
 * counted against the model's context in its own tokens, when the model is at hand (built-in, or a directory).
 */
function checkRun(config: TrainConfig): number {
  const d = config.data;
  const train = d.train ?? [];
  const test = d.test ?? [];
  const source = d.task
    ? `task ${d.task.name}`
    : `${train.length} training / ${test.length} held-out examples`;
  const context = modelContext(config.model);
  const tokenizer = context ? modelTokenizer(config.model) : undefined;
  if (context && tokenizer) {
    const bare = contextIssues(config, { ...context, charTokens: false }, 0);
    const issues = bare.length
      ? bare
      : overlongIssues(
          config,
          context.maxPositions,
          tokenizer,
          d.task ? { train: [], test: [] } : { train, test },
        );
    if (issues.length) return reportConfigError(new ConfigError(issues));
  }
  const model = config.model.builtin ?? config.model.path;
  process.stdout.write(
    `valid: ${config.algorithm}, ${config.steps} steps, ${source}` +
      (context && tokenizer
        ? `; prompts fit ${model} (${context.maxPositions} positions)\n`
        : `; model ${model} is not here: its context and tokenizer were not checked\n`),
  );
  return 0;
}

/** Runs one config into a run folder; the exported final policy lands in `<out>/final` (HF format). */
export async function trainIntoFolder(
  config: TrainConfig,
  out: string,
  opts: { resume?: string; quiet?: boolean; label?: string } = {},
) {
  const folder = new RunFolder(out);
  folder.writeConfig(config);
  let resumeFrom;
  if (opts.resume) {
    const bytes = new Uint8Array(readFileSync(opts.resume));
    // The hash written beside the checkpoint is the one to check against; without it we can only trust the bytes.
    const sidecar = opts.resume + '.sha256';
    const sha256 = existsSync(sidecar)
      ? readFileSync(sidecar, 'utf8').trim().split(/\s+/)[0]
      : createHash('sha256').update(bytes).digest('hex');
    resumeFrom = { step: -1, bytes, sha256 };
  }
  const progress = opts.quiet ? undefined : new StepProgress(config.steps, opts.label ?? config.algorithm);
  let stop: StopSignal = false;
  const onSigint = () => {
    stop = 'pause';
    progress?.log('interrupt: stopping after this step with a checkpoint (resume with --resume)');
  };
  process.once('SIGINT', onSigint);
  let result: TrainResult;
  try {
    result = await train(
      config,
      {
        onStep: (m) => {
          folder.appendMetrics(m);
          progress?.update(m);
        },
        onCheckpoint: (c) => {
          folder.writeCheckpoint(c);
        },
        onEval: (e) => {
          folder.appendEval(e);
          progress?.log(
            `eval @ step ${e.step}: avg@${e.k} ${e.avg_at_k.toFixed(3)}  pass@${e.k} ${e.pass_at_k.toFixed(3)} (${e.examples} problems)`,
          );
        },
        onEvent: (e) => {
          folder.appendEvent(e);
          if (e.level === 'warning') progress?.log(`warning at step ${e.step}: ${e.message}`);
        },
        onResume: (step) => {
          folder.truncateAfter(step);
          progress?.startAt(step);
        },
        shouldStop: () => stop,
      },
      // HTTP reward graders reach what the service's workers may (POPO_OUTBOUND_ALLOW for local ones).
      { resumeFrom, outbound: OutboundPolicy.parse(process.env.POPO_OUTBOUND_ALLOW) },
    );
  } finally {
    process.off('SIGINT', onSigint);
    progress?.stop();
  }
  if (result.final_checkpoint) {
    // A LoRA run's final/ is the merged model; final-adapter/ holds its adapters for PEFT.
    await exportPolicy(result.final_checkpoint, join(out, 'final'));
    if (config.lora) await exportAdapter(result.final_checkpoint, join(out, 'final-adapter'));
  }
  const plots = await folder.writeCurves(`${config.algorithm.toUpperCase()} — ${out}`);
  return { result, folder, plots };
}

export async function runTrain(opts: TrainCommandOptions): Promise<number> {
  let config: TrainConfig;
  let name: string;
  try {
    const patch = {
      ...(opts.forceAlgorithm ? { algorithm: opts.forceAlgorithm } : {}),
      ...(opts.backend ? { backend: opts.backend } : {}),
    };
    const loaded = loadRunConfig(opts.config, opts.set ?? [], patch);
    name = loaded.name;
    config = loaded.config;
    if (opts.init) config.model = { path: opts.init };
  } catch (e) {
    if (e instanceof ConfigError) return reportConfigError(e);
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  if (opts.check) return checkRun(config);
  const out = opts.out ?? join('runs', name);
  let outcome;
  try {
    outcome = await trainIntoFolder(config, out, opts);
  } catch (e) {
    if (e instanceof CheckpointError) {
      process.stderr.write(`cannot resume: ${e.message}\n`);
      return 2;
    }
    // The run does not fit the backend (memory, checked before loading): every field to change.
    if (e instanceof ConfigError) return reportConfigError(e);
    // Other input problems found while loading (unknown task, bad model directory, tokenizer) name their field.
    if (e instanceof FieldError) {
      process.stderr.write(`invalid config:\n  ${e.field}: ${e.reason}\n`);
      return 2;
    }
    throw e;
  }
  const { result, plots } = outcome;
  const line = (label: string, e?: { avg_at_k: number; k: number }) =>
    e ? `${label} held-out avg@${e.k}: ${(100 * e.avg_at_k).toFixed(1)}%\n` : '';
  process.stdout.write(
    `${result.status} after ${result.steps_done} steps on ${result.backend}\n` +
      line('before', result.eval_before) +
      line('after ', result.eval_after) +
      `run folder: ${out}  (curves: ${plots.join(', ')})\n`,
  );
  return result.status === 'completed' || result.status === 'paused' ? 0 : 1;
}
