import type { components, operations } from './generated/schema.js';

/** Every schema of the spec, by its component name (`Schemas['JobDto']`). */
export type Schemas = components['schemas'];

export type Job = Schemas['JobDto'];
export type JobStatus = Job['status'];
export type JobKind = Job['kind'];
export type CreateJobRequest = Schemas['JobRequest'];
export type CreateSweepRequest = Schemas['SweepRequest'];
export type JobPage = Schemas['JobPageDto'];
export type JobEvent = Schemas['JobEventDto'];
export type Dataset = Schemas['DatasetDto'];
export type DatasetDetail = Schemas['DatasetDetailDto'];
export type Metrics = Schemas['MetricsDto'];
export type MetricPoint = Schemas['MetricPointDto'];
export type Checkpoint = Schemas['CheckpointDto'];

export type ListJobsQuery = NonNullable<operations['JobsController_list']['parameters']['query']>;
export type MetricsQuery = NonNullable<operations['MetricsController_list']['parameters']['query']>;
export type EventsQuery = NonNullable<operations['JobsController_listEvents']['parameters']['query']>;

/** States a job never leaves on its own (retry is an explicit request). */
export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export const isTerminal = (status: JobStatus): boolean => TERMINAL_STATUSES.includes(status);
