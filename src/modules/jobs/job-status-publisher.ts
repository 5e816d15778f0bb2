import type { Job, JobEvent } from '../../database/entities/index.js';

/**
 * Where the API announces changes it makes itself (cancel, pause, resume, retry, create) so the realtime
 * layer can relay them. Optional: without a provider the changes are only in Postgres.
 */
export const JOB_STATUS_PUBLISHER = Symbol('JOB_STATUS_PUBLISHER');

export interface JobStatusPublisher {
  statusChanged(job: Job): void | Promise<void>;
  eventAdded?(event: JobEvent): void | Promise<void>;
}
