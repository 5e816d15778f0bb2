import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { checkOutboundUrl } from '../../common/ssrf-guard.js';
import { rewardUrlIssues } from '../../learner/rewards/reward-scorer.js';
import { AppConfig } from '../../config/index.js';
import { validationFailed, type ErrorDetail } from '../../common/api-error.js';
import { Dataset, DatasetRow, Model, type Job, type JsonObject } from '../../database/entities/index.js';
import { CheckpointRepository } from '../../repositories/checkpoint.repository.js';
import { JobRepository } from '../../repositories/job.repository.js';
import { stepBudget } from '../../learner/trainer/compute-budget.js';
import { getTask } from '../../learner/tasks/index.js';
import { examplesOfRows } from '../../learner/data/examples.js';
import {
  contextIssues,
  longestTaskTexts,
  modelConfigOf,
  modelContext,
  modelTokenizer,
  overlongIssues,
} from '../../learner/trainer/context-check.js';
import { runMemoryIssues } from '../../learner/trainer/memory-check.js';
import { DATA_SOURCE_KEYS } from '../../learner/trainer/run-spec.js';
import {
  jobRequestSchema,
  parseJobRequest,
  SERVICE_ONLY_FIELDS,
  type JobRequest,
} from './job-request-schema.js';
import { parseRun, ConfigError } from '../../learner/trainer/config.js';

/** The columns of a new jobs row that follow from a validated request (everything but ids and bookkeeping). */
export type JobRowInput = Pick<
  Job,
  | 'kind'
  | 'name'
  | 'config'
  | 'model_builtin'
  | 'model_id'
  | 'dataset_id'
  | 'task'
  | 'priority'
  | 'total_steps'
  | 'parent_job_id'
  | 'from_checkpoint_id'
  | 'webhook_url'
>;

type Run = Omit<JobRequest, (typeof SERVICE_ONLY_FIELDS)[number]>;
type Task = NonNullable<Run['data']['task']>;

/**
 * Turns a job request (the run document with ids for the model and the data) into row columns: the schema's
 * checks, then everything that needs the database or the model's files: the model, dataset and checkpoint exist
 * in the caller's project, and the prompts fit the model's context. All problems come back in one 400, before
 * anything is written: a job that is certain to fail is never created.
 */
@Injectable()
export class JobRequestResolver {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly appConfig: AppConfig,
    private readonly jobs: JobRepository,
    private readonly checkpoints: CheckpointRepository,
  ) {}

  async resolve(projectId: string, body: unknown): Promise<JobRowInput> {
    return (await this.resolveChecked(projectId, body)).row;
  }

  /** The row, and warnings about a job that is accepted but will be slow (recorded as events at creation). */
  async resolveChecked(projectId: string, body: unknown): Promise<{ row: JobRowInput; warnings: string[] }> {
    const req = parseJobRequest(body);
    const given = body as Record<string, unknown>;
    const errors: ErrorDetail[] = [];
    const fail = (field: string, reason: string) => errors.push({ field, reason });
    const { name, mode, priority, webhook_url, from_checkpoint, ...parsed } = req;
    let run: Run = parsed;
    let parentJobId: string | null = null;
    let fromCheckpointId: string | null = null;

    if (webhook_url) {
      const refused = await checkOutboundUrl(webhook_url, this.appConfig.outbound);
      if (refused) fail('webhook_url', refused);
    }
    // A grader the worker may not reach would fail every step: refused now, as POST /v1/rewards/run does.
    if (parsed.rewards)
      for (const i of await rewardUrlIssues(
        { rewards: parsed.rewards, positive_threshold: 0 },
        this.appConfig.outbound,
      ))
        fail(i.field, i.reason);

    if (from_checkpoint) {
      const parent = await this.jobs.findInProject(projectId, from_checkpoint.job_id);
      if (!parent) fail('from_checkpoint.job_id', 'no such job in this project');
      else {
        const step = from_checkpoint.step;
        const checkpoint = await this.checkpoints.find(parent.id, step ?? 'latest');
        if (!checkpoint)
          fail(
            step === undefined ? 'from_checkpoint.job_id' : 'from_checkpoint.step',
            step === undefined
              ? `job ${parent.id} has no checkpoints`
              : `job ${parent.id} has no checkpoint at step ${step}`,
          );
        else fromCheckpointId = checkpoint.id;
        parentJobId = parent.id;
        run = this.inherit(run, parent, given, fail);
      }
    }
    if (errors.length) throw validationFailed(errors);

    let modelPath: string | undefined;
    if (run.model.id !== undefined) {
      const model = await this.db
        .getRepository(Model)
        .findOne({ where: { id: run.model.id, project_id: projectId }, select: { id: true, path: true } });
      if (!model) fail('model.id', 'no such model in this project');
      modelPath = model?.path;
    }
    let longest = { problem: 0, target: 0 };
    let rows: PromptRows = { train: [], test: [] };
    if (run.data.dataset_id !== undefined) {
      if (
        !(await this.db.getRepository(Dataset).existsBy({ id: run.data.dataset_id, project_id: projectId }))
      )
        fail('data.dataset_id', 'no such dataset in this project');
      else {
        longest = await this.longestDatasetTexts(run.data.dataset_id);
        rows = await this.datasetPrompts(run.data.dataset_id);
      }
    } else if (run.data.task) {
      longest = longestTaskTexts(run.data.task, run.seed);
      rows = taskPrompts(run.data.task, run.seed);
    }

    const modelRef = run.model.builtin ? { builtin: run.model.builtin } : { path: modelPath };
    const context = modelContext(modelRef);
    const tokenizer = context ? cachedTokenizer(modelRef) : undefined;
    if (context && tokenizer) {
      // The prompts are counted in the model's own tokens, under the run's template, as the trainer will.
      const bare = contextIssues(run, { ...context, charTokens: false }, 0);
      errors.push(...bare);
      if (!bare.length) errors.push(...overlongIssues(run, context.maxPositions, tokenizer, rows));
    } else if (context) errors.push(...contextIssues(run, context, longest.problem));
    // A character is at most one token for every tokenizer here, so the longest problem bounds the prompt.
    const budget = stepBudget(
      run,
      longest.problem + 1,
      this.appConfig.budget,
      modelConfigOf(modelRef)?.config,
    );
    errors.push(...budget.issues);
    // Peak memory against the backend's limit (the wasm heap, or POPO_MEMORY_BUDGET_MB for GPU workers).
    const model = errors.length || mode === 'eval' ? undefined : modelConfigOf(modelRef);
    if (model)
      errors.push(
        ...runMemoryIssues(run, model, {
          longestProblemChars: longest.problem,
          longestTargetChars: longest.target,
        }),
      );
    if (errors.length) throw validationFailed(errors);

    const row: JobRowInput = {
      kind: mode === 'eval' ? 'eval' : run.algorithm,
      name: name ?? null,
      config: JSON.parse(JSON.stringify(run)) as JsonObject,
      model_builtin: run.model.builtin ?? null,
      model_id: run.model.id ?? null,
      dataset_id: run.data.dataset_id ?? null,
      task: run.data.task ? { ...run.data.task } : null,
      priority,
      total_steps: run.steps,
      parent_job_id: parentJobId,
      from_checkpoint_id: fromCheckpointId,
      webhook_url: webhook_url ?? null,
    };
    return { row, warnings: budget.warnings };
  }

  /**
   * A job started from a checkpoint runs on its parent's model (the checkpoint's weights cannot load into another)
   * and, unless it names its own, on its parent's data. The inherited run is checked again (a task's size
   * depends on the seed).
   */
  private inherit(
    run: Run,
    parent: Job,
    given: Record<string, unknown>,
    fail: (field: string, reason: string) => void,
  ): Run {
    const parentModel = parent.model_builtin ? { builtin: parent.model_builtin } : { id: parent.model_id! };
    let model = run.model;
    if (!('model' in given)) model = parentModel;
    else if (
      (run.model.builtin ?? null) !== parent.model_builtin ||
      (run.model.id ?? null) !== parent.model_id
    )
      fail('model', 'must match the base model of the checkpoint`s job (or be omitted)');
    let data = run.data;
    if (!('data' in given)) {
      const parentData = (parent.config.data ?? {}) as Record<string, unknown>;
      const reward = (parentData.reward ?? parent.config.reward) as Run['data']['reward'];
      if (!parent.task && !parent.dataset_id)
        fail('data.dataset_id', 'is required: the parent job`s dataset no longer exists');
      // The parent's data settings (reward, overlong, prompt template, ...) over the defaults, then its source.
      const settings = (d: Record<string, unknown>) =>
        Object.fromEntries(Object.entries(d).filter(([k]) => !DATA_SOURCE_KEYS.includes(k)));
      data = {
        ...settings(run.data),
        ...settings(parentData),
        ...(reward ? { reward } : {}),
        ...(parent.task ? { task: parent.task as Task } : { dataset_id: parent.dataset_id ?? undefined }),
      } as Run['data'];
    }
    if (model === run.model && data === run.data) return run;
    try {
      const {
        name: _n,
        mode: _m,
        priority: _p,
        webhook_url: _w,
        from_checkpoint: _f,
        ...checked
      } = parseRun(jobRequestSchema, { ...run, model, data });
      return checked;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      for (const i of e.issues) fail(i.field, `${i.reason} (inherited from job ${parent.id})`);
      return { ...run, model, data };
    }
  }

  private async longestDatasetTexts(datasetId: string): Promise<{ problem: number; target: number }> {
    const [row] = await this.db
      .getRepository(DatasetRow)
      .createQueryBuilder('r')
      .select('COALESCE(MAX(char_length(r.problem)), 0)', 'problem')
      .addSelect("COALESCE(MAX(char_length(COALESCE(r.extra->>'completion', r.answer))), 0)", 'target')
      .where('r.dataset_id = :datasetId', { datasetId })
      .getRawMany<{ problem: number | string; target: number | string }>();
    return { problem: Number(row?.problem ?? 0), target: Number(row?.target ?? 0) };
  }

  /** A dataset's problems by split, with the ids the trainer gives them (the row mapping's). */
  private async datasetPrompts(datasetId: string): Promise<PromptRows> {
    const raw = await this.db
      .getRepository(DatasetRow)
      .createQueryBuilder('r')
      .select(['r.idx AS idx', 'r.problem AS problem', 'r.extra AS extra'])
      .where('r.dataset_id = :datasetId', { datasetId })
      .orderBy('r.idx')
      .getRawMany<{ problem: string; extra: Record<string, unknown> | null }>();
    const { train, test } = examplesOfRows(
      raw.map((r) => ({ problem: r.problem, answer: '', extra: r.extra })),
    );
    return { train, test };
  }
}

type PromptRows = Parameters<typeof overlongIssues>[3];

/** The problems the task will generate for this run, as the trainer generates them. */
function taskPrompts(task: Task, seed: number): PromptRows {
  const t = getTask(task.name);
  const gen = (split: 'train' | 'test', n: number) =>
    t.generate({ split, n, seed, difficulty: task.difficulty });
  return { train: gen('train', task.n_train), test: gen('test', task.n_test) };
}

/** Tokenizers of registered models are read once per directory (a tokenizer.json can be megabytes). */
const tokenizers = new Map<string, ReturnType<typeof modelTokenizer>>();
function cachedTokenizer(model: { builtin?: string; path?: string }) {
  const key = model.builtin ? `builtin:${model.builtin}` : `path:${model.path}`;
  if (!tokenizers.has(key)) {
    if (tokenizers.size >= 16) tokenizers.delete(tokenizers.keys().next().value!);
    tokenizers.set(key, modelTokenizer(model));
  }
  return tokenizers.get(key);
}
