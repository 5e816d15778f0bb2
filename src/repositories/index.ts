import { CheckpointRepository } from './checkpoint.repository.js';
import { JobEventRepository } from './job-event.repository.js';
import { JobRepository } from './job.repository.js';
import { MetricRepository } from './metric.repository.js';

/**
 * The data layer (immich-style): each repository owns all SQL on its tables; services receive the repositories
 * they need. Provided by the core AppModule, so the API and the worker share them.
 */
export const REPOSITORIES = [JobRepository, JobEventRepository, MetricRepository, CheckpointRepository];

export { CheckpointRepository, JobEventRepository, JobRepository, MetricRepository };
