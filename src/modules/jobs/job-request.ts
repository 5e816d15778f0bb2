import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { instanceToPlain } from 'class-transformer';
import type { DataSource } from 'typeorm';
import { checkOutboundUrl } from '../../common/ssrf-guard.js';
import { AppConfig } from '../../config/index.js';
import { validationFailed, type ErrorDetail } from '../../common/api-error.js';
import { Dataset, Model, type Job } from '../../database/entities/index.js';
import { CheckpointRepository } from '../../repositories/checkpoint.repository.js';
import { JobRepository } from '../../repositories/job.repository.js';
import { BUILTIN_MODELS } from '../../learner/model/config.js';
import { ConfigError, resolveConfig } from '../../learner/trainer/config.js';
import type { CreateJobDto } from './dto/create-job.dto.js';
import { HYPERPARAMETER_SCALARS, HYPERPARAMETER_SECTIONS } from './dto/hyperparameters.dto.js';

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

/** The hyperparameter fields of a request as a plain object: what jobs.config stores. */
export function hyperparametersOf(dto: CreateJobDto): Record<string, unknown> {
  const plain = instanceToPlain(dto) as Record<string, unknown>;
  const keys: readonly string[] = [...HYPERPARAMETER_SCALARS, ...HYPERPARAMETER_SECTIONS];
  return Object.fromEntries(Object.entries(plain).filter(([k, v]) => keys.includes(k) && v !== undefined));
}

/**
 * Turns a DTO-valid job request into row columns: checks the rules that span fields and that the model,
 * dataset and checkpoint it names exist in the caller's project. All problems come back in one 400.
 */
@Injectable()
export class JobRequestResolver {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly appConfig: AppConfig,
    private readonly jobs: JobRepository,
    private readonly checkpoints: CheckpointRepository,
  ) {}

  async resolve(projectId: string, dto: CreateJobDto): Promise<JobRowInput> {
    const errors: ErrorDetail[] = [];
    const fail = (field: string, reason: string) => errors.push({ field, reason });

    if (dto.model && (dto.model.builtin === undefined) === (dto.model.id === undefined))
      fail('model', 'give exactly one of model.builtin or model.id');
    if (!dto.model && !dto.from_checkpoint)
      fail('model', 'is required (model.builtin or model.id), unless from_checkpoint is given');
    if (dto.dataset_id && dto.task) fail('dataset_id', 'give either dataset_id or task, not both');
    if (!dto.dataset_id && !dto.task && !dto.from_checkpoint)
      fail('dataset_id', 'is required (or give task)');
    if (dto.eval?.k !== undefined && dto.eval.n !== undefined && dto.eval.k > dto.eval.n)
      fail('eval.k', `must be <= eval.n (${dto.eval.n})`);
    if (errors.length) throw validationFailed(errors);

    let modelBuiltin: string | null = null;
    let modelId: string | null = null;
    let datasetId: string | null = dto.dataset_id ?? null;
    let task = dto.task ? (instanceToPlain(dto.task) as Record<string, unknown>) : null;
    let parentJobId: string | null = null;
    let fromCheckpointId: string | null = null;

    if (dto.model?.builtin !== undefined) {
      if (!(dto.model.builtin in BUILTIN_MODELS))
        fail('model.builtin', `unknown built-in model; one of: ${Object.keys(BUILTIN_MODELS).join(', ')}`);
      modelBuiltin = dto.model.builtin;
    }
    if (dto.model?.id !== undefined) {
      if (!(await this.db.getRepository(Model).existsBy({ id: dto.model.id, project_id: projectId })))
        fail('model.id', 'no such model in this project');
      modelId = dto.model.id;
    }
    if (
      dto.dataset_id &&
      !(await this.db.getRepository(Dataset).existsBy({ id: dto.dataset_id, project_id: projectId }))
    )
      fail('dataset_id', 'no such dataset in this project');
    if (dto.webhook_url) {
      const refused = await checkOutboundUrl(dto.webhook_url, this.appConfig.outbound);
      if (refused) fail('webhook_url', refused);
    }

    if (dto.from_checkpoint) {
      const parent = await this.jobs.findInProject(projectId, dto.from_checkpoint.job_id);
      if (!parent) fail('from_checkpoint.job_id', 'no such job in this project');
      else {
        const step = dto.from_checkpoint.step;
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
        // The checkpoint's weights belong to the parent's base model; a different base cannot load them.
        if (!dto.model) {
          modelBuiltin = parent.model_builtin;
          modelId = parent.model_id;
        } else if (modelBuiltin !== parent.model_builtin || modelId !== parent.model_id)
          fail('model', 'must match the base model of the checkpoint`s job (or be omitted)');
        if (!dto.dataset_id && !dto.task) {
          datasetId = parent.dataset_id;
          task = parent.task;
          if (!datasetId && !task)
            fail('dataset_id', 'is required: the parent job`s dataset no longer exists');
        }
      }
    }
    if (errors.length) throw validationFailed(errors);

    const config = hyperparametersOf(dto);
    const row: JobRowInput = {
      kind: dto.kind,
      name: dto.name ?? null,
      config,
      model_builtin: modelBuiltin,
      model_id: modelId,
      dataset_id: datasetId,
      task,
      priority: dto.priority ?? 0,
      total_steps: typeof config.steps === 'number' ? config.steps : null,
      parent_job_id: parentJobId,
      from_checkpoint_id: fromCheckpointId,
      webhook_url: dto.webhook_url ?? null,
    };
    const issues = await this.trainConfigIssues(row);
    if (issues.length) throw validationFailed(issues);
    return row;
  }

  /**
   * Runs the trainer's own resolveConfig on what the worker will build from this row, so anything the
   * trainer would reject (cross-field rules such as grpo.epsilon_high >= grpo.epsilon) is a 400 now rather
   * than a failed job later. Field names are mapped back to the request's.
   */
  async trainConfigIssues(row: JobRowInput): Promise<ErrorDetail[]> {
    const { reward, ...hyper } = row.config as Record<string, unknown> & { reward?: unknown };
    let model: { builtin?: string; path?: string } = { builtin: row.model_builtin ?? undefined };
    if (row.model_id) {
      const m = await this.db
        .getRepository(Model)
        .findOne({ where: { id: row.model_id }, select: { path: true } });
      model = { path: m?.path ?? '/missing' };
    }
    // The dataset's rows are not needed to check the hyperparameters: one stand-in example fills `train`.
    const data: Record<string, unknown> = row.task ? { task: row.task } : { train: [STAND_IN_EXAMPLE] };
    if (reward !== undefined) data.reward = reward;
    try {
      resolveConfig({ ...hyper, algorithm: row.kind === 'eval' ? 'popo' : row.kind, model, data });
      return [];
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      return e.issues.map((i) => ({ field: requestField(i.field), reason: i.reason }));
    }
  }
}

const STAND_IN_EXAMPLE = { id: 'stand-in', problem: '1', answer: '1' };

/** TrainConfig paths → the job request's field names. */
function requestField(field: string): string {
  if (field === 'algorithm') return 'kind';
  if (field === 'data.reward') return 'reward';
  if (field.startsWith('data.task')) return field.slice('data.'.length);
  if (field === 'data' || field.startsWith('data.')) return 'dataset_id';
  if (field.startsWith('model')) return 'model';
  return field;
}
