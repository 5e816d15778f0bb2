import type { Job } from '../../database/entities/index.js';
import { resolveConfig } from '../../learner/trainer/config.js';
import type { Algorithm, Example, TrainConfig } from '../../learner/trainer/types.js';

/** What the worker looked up for the job's columns: a registered model's directory, a dataset's rows. */
export interface JobInputs {
  modelPath?: string;
  examples?: { train: Example[]; test: Example[] };
}

type JobFields = Pick<Job, 'kind' | 'config' | 'model_builtin' | 'model_id' | 'task'>;

/**
 * jobs.config holds the hyperparameters as submitted (TrainConfig minus model and data, with the verifier as a
 * top-level `reward`); the model and data come from the job's columns. The trainer's resolveConfig fills the
 * defaults and throws ConfigError naming every bad field. An eval job is shaped like a POPO run and only
 * its model, data, sampling and eval sections are used.
 */
export function trainConfigFor(job: JobFields, inputs: JobInputs): TrainConfig {
  const { reward, ...hyper } = job.config as Record<string, unknown> & { reward?: unknown };
  const model = job.model_builtin
    ? { builtin: job.model_builtin }
    : inputs.modelPath
      ? { path: inputs.modelPath }
      : undefined;
  if (!model) throw new Error(`job has no usable model: model ${job.model_id ?? '(none)'} is missing`);
  const data: Record<string, unknown> = job.task
    ? { task: job.task }
    : inputs.examples
      ? { train: inputs.examples.train, test: inputs.examples.test }
      : {};
  if (reward !== undefined) data.reward = reward;
  const algorithm: Algorithm = job.kind === 'eval' ? 'popo' : job.kind;
  return resolveConfig({ ...hyper, algorithm, model, data });
}

/** Dataset rows → examples; rows whose extra field `split` is "test" are the held-out evaluation set. */
export function examplesFromRows(
  rows: { idx: number; problem: string; answer: string; extra: Record<string, unknown> | null }[],
): { train: Example[]; test: Example[] } {
  const train: Example[] = [];
  const test: Example[] = [];
  for (const r of rows) {
    const extra = r.extra ?? {};
    const id =
      typeof extra.id === 'string' || typeof extra.id === 'number' ? String(extra.id) : String(r.idx + 1);
    const completion = typeof extra.completion === 'string' ? extra.completion : undefined;
    const example: Example = {
      id,
      problem: r.problem,
      answer: r.answer,
      ...(completion ? { completion } : {}),
    };
    (extra.split === 'test' ? test : train).push(example);
  }
  return { train, test };
}
