import type { Job } from '../../database/entities/index.js';
import { examplesOfRows, type DatasetRow } from '../../learner/data/examples.js';
import { resolveConfig } from '../../learner/trainer/config.js';
import { DATA_SOURCE_KEYS } from '../../learner/trainer/run-spec.js';
import type { Example, TrainConfig } from '../../learner/trainer/types.js';

/** What the worker looked up for the job's columns: a registered model's directory, a dataset's rows. */
export interface JobInputs {
  modelPath?: string;
  examples?: { train: Example[]; test: Example[] };
}

type JobFields = Pick<Job, 'kind' | 'config' | 'model_builtin' | 'model_id' | 'task'>;

/**
 * jobs.config holds the run document as accepted (model and data by reference); the worker swaps the references
 * for what they name (a model directory, a dataset's examples) and the trainer's resolveConfig does the rest.
 * Rows written before the one run document (hyperparameters with a top-level `reward`) read the same way.
 */
export function trainConfigFor(job: JobFields, inputs: JobInputs): TrainConfig {
  const {
    reward,
    model: _ref,
    data: dataRef,
    ...run
  } = job.config as Record<string, unknown> & {
    reward?: unknown;
    data?: Record<string, unknown>;
  };
  const model = job.model_builtin
    ? { builtin: job.model_builtin }
    : inputs.modelPath
      ? { path: inputs.modelPath }
      : undefined;
  if (!model) throw new Error(`job has no usable model: model ${job.model_id ?? '(none)'} is missing`);
  const settings = Object.fromEntries(
    Object.entries(dataRef ?? {}).filter(([k]) => !DATA_SOURCE_KEYS.includes(k)),
  );
  const data: Record<string, unknown> = {
    ...(reward !== undefined ? { reward } : {}),
    ...settings,
    ...(job.task
      ? { task: job.task }
      : inputs.examples
        ? { train: inputs.examples.train, test: inputs.examples.test }
        : {}),
  };
  // An eval job measures the model; the run's own algorithm (whatever it names) is not used.
  const algorithm = job.kind === 'eval' ? (run.algorithm ?? 'popo') : job.kind;
  return resolveConfig({ ...run, algorithm, model, data });
}

/** Dataset rows (in idx order) → examples, by the one row mapping of src/learner/data/examples.ts. */
export function examplesFromRows(rows: DatasetRow[]): { train: Example[]; test: Example[] } {
  return examplesOfRows(rows);
}
