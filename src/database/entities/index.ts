import { ApiKey } from './api-key.entity.js';
import { Completion } from './completion.entity.js';
import { CheckpointChunk } from './checkpoint-chunk.entity.js';
import { Checkpoint } from './checkpoint.entity.js';
import { DatasetRow } from './dataset-row.entity.js';
import { Dataset } from './dataset.entity.js';
import { JobEvent } from './job-event.entity.js';
import { Job } from './job.entity.js';
import { Metric } from './metric.entity.js';
import { Model } from './model.entity.js';
import { Project } from './project.entity.js';
import { Sweep } from './sweep.entity.js';
import { WebhookDelivery } from './webhook-delivery.entity.js';

export * from './api-key.entity.js';
export * from './checkpoint-chunk.entity.js';
export * from './checkpoint.entity.js';
export * from './completion.entity.js';
export * from './dataset-row.entity.js';
export * from './dataset.entity.js';
export * from './job-event.entity.js';
export * from './job.entity.js';
export * from './metric.entity.js';
export * from './model.entity.js';
export * from './project.entity.js';
export * from './sweep.entity.js';
export * from './webhook-delivery.entity.js';

export const ENTITIES = [
  Project,
  ApiKey,
  Dataset,
  DatasetRow,
  Model,
  Sweep,
  Job,
  JobEvent,
  Metric,
  Completion,
  Checkpoint,
  CheckpointChunk,
  WebhookDelivery,
];
export * from './json.js';
