import type { JsonObject } from './json.js';
import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Checkpoint } from './checkpoint.entity.js';
import { Dataset } from './dataset.entity.js';
import { Model } from './model.entity.js';
import { Project } from './project.entity.js';
import { Sweep } from './sweep.entity.js';

export const JOB_KINDS = ['popo', 'grpo', 'sft', 'eval'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATUSES = [
  'queued',
  'running',
  'paused',
  'cancelling',
  'cancelled',
  'succeeded',
  'failed',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL_STATUSES: readonly JobStatus[] = ['cancelled', 'succeeded', 'failed'];
/** Statuses in which a job still needs its dataset and model. */
export const ACTIVE_STATUSES: readonly JobStatus[] = ['queued', 'running', 'paused', 'cancelling'];

/** What a running job's worker should do at its next step boundary (polled through TrainHooks.shouldStop). */
export type StopRequest = 'pause' | 'cancel';

const list = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(', ');

@Entity('jobs')
@Index(['project_id', 'idempotency_key'], { unique: true })
@Index(['project_id', 'created_at'])
@Index(['status', 'priority', 'created_at'])
@Check('CHK_jobs_kind', `"kind" IN (${list(JOB_KINDS)})`)
@Check('CHK_jobs_status', `"status" IN (${list(JOB_STATUSES)})`)
@Check('CHK_jobs_stop_requested', `"stop_requested" IN ('pause', 'cancel')`)
export class Job {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  project_id: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Project;

  @Column('text')
  kind: JobKind;

  @Column('text', { default: 'queued' })
  status: JobStatus;

  @Column('text', { nullable: true })
  name: string | null;

  /**
   * The hyperparameters as submitted: a partial TrainConfig without model/data (those are the columns below).
   * The worker completes it with the trainer's defaults.
   */
  @Column('jsonb')
  config: JsonObject;

  /** A built-in model name (e.g. "tiny-1m") ... */
  @Column('text', { nullable: true })
  model_builtin: string | null;

  /** ... or a registered model. */
  @Index()
  @Column('uuid', { nullable: true })
  model_id: string | null;

  @ManyToOne(() => Model, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'model_id' })
  model?: Model;

  @Index()
  @Column('uuid', { nullable: true })
  dataset_id: string | null;

  @ManyToOne(() => Dataset, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'dataset_id' })
  dataset?: Dataset;

  /** A built-in task instead of a dataset: {name, difficulty, n_train, n_test}. */
  @Column('jsonb', { nullable: true })
  task: JsonObject | null;

  /** Lower runs first (BullMQ convention). */
  @Column('int', { default: 0 })
  priority: number;

  /** Times a worker has started this job (incremented by the worker when it claims the job). */
  @Column('int', { default: 0 })
  attempts: number;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('text', { nullable: true })
  idempotency_key: string | null;

  /** sha256 of the normalised request, so reusing a key with a different body is refused. */
  @Column('char', { length: 64, nullable: true })
  request_hash: string | null;

  @Column('text', { nullable: true })
  stop_requested: StopRequest | null;

  @Column('int', { default: 0 })
  progress_step: number;

  @Column('int', { nullable: true })
  total_steps: number | null;

  /** Backend the worker ran on ("tensorflow-gpu", "wasm", ...), written by the worker. */
  @Column('text', { nullable: true })
  backend: string | null;

  @Column('text', { nullable: true })
  device: string | null;

  @Column('text', { nullable: true })
  worker_id: string | null;

  @Index()
  @Column('uuid', { nullable: true })
  sweep_id: string | null;

  /** Position in the sweep's grid expansion, so a sweep lists its jobs in grid order. */
  @Column('int', { nullable: true })
  sweep_index: number | null;

  @ManyToOne(() => Sweep, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'sweep_id' })
  sweep?: Sweep;

  /** The job whose checkpoint this one starts from. */
  @Column('uuid', { nullable: true })
  parent_job_id: string | null;

  @ManyToOne(() => Job, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'parent_job_id' })
  parent_job?: Job;

  @Column('uuid', { nullable: true })
  from_checkpoint_id: string | null;

  @ManyToOne(() => Checkpoint, { onDelete: 'SET NULL' })
  @JoinColumn({ name: 'from_checkpoint_id' })
  from_checkpoint?: Checkpoint;

  @Column('text', { nullable: true })
  webhook_url: string | null;

  /** Summary written at the end (eval before/after, steps done). */
  @Column('jsonb', { nullable: true })
  result: JsonObject | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;

  @UpdateDateColumn({ type: 'timestamptz' })
  updated_at: Date;

  @Column('timestamptz', { nullable: true })
  started_at: Date | null;

  @Column('timestamptz', { nullable: true })
  finished_at: Date | null;

  /** Refreshed by the running worker each step; a stale value on a running job means its worker died. */
  @Column('timestamptz', { nullable: true })
  heartbeat_at: Date | null;
}
