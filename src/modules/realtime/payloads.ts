import type { Job, JobEvent, Metric } from '../../database/entities/index.js';
import type { JobEventPayload, JobMetricsPayload, JobStatusPayload } from './events.js';

const iso = (d: Date | string | null | undefined) =>
  d ? new Date(d).toISOString() : new Date().toISOString();

export function statusPayload(job: Job): JobStatusPayload {
  return {
    job_id: job.id,
    project_id: job.project_id,
    status: job.status,
    progress_step: job.progress_step,
    total_steps: job.total_steps,
    attempts: job.attempts,
    error: job.error,
    backend: job.backend,
    device: job.device,
    worker_id: job.worker_id,
    stop_requested: job.stop_requested,
    updated_at: iso(job.updated_at),
  };
}

export function eventPayload(event: JobEvent, projectId: string): JobEventPayload {
  return {
    job_id: event.job_id,
    project_id: projectId,
    id: Number(event.id),
    level: event.level,
    code: event.code,
    message: event.message,
    step: event.step,
    data: event.data,
    created_at: iso(event.created_at),
  };
}

export function metricsPayload(
  metric: Pick<Metric, 'job_id' | 'step' | 'values'>,
  projectId: string,
): JobMetricsPayload {
  return { job_id: metric.job_id, project_id: projectId, step: metric.step, values: metric.values };
}
