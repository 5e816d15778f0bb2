import type { Checkpoint, JobEvent } from '../../database/entities/index.js';
import type { JobDto } from '../jobs/dto/job.dto.js';
import type { MetricPointDto } from '../metrics/dto/metrics.dto.js';
import type {
  JobCheckpointPayload,
  JobEventPayload,
  JobMetricsPayload,
  JobStatusPayload,
  Wire,
} from './events.js';

/** What JSON.stringify makes of a DTO (socket.io and the Redis emitter would otherwise disagree on dates). */
export const wire = <T>(dto: T): Wire<T> => JSON.parse(JSON.stringify(dto)) as Wire<T>;

export const statusPayload = (job: JobDto): JobStatusPayload => wire(job);

export const eventPayload = (event: JobEvent, projectId: string): JobEventPayload => ({
  ...wire({ ...event, id: Number(event.id) }),
  project_id: projectId,
});

export const metricsPayload = (
  jobId: string,
  point: MetricPointDto,
  projectId: string,
): JobMetricsPayload => ({
  ...point,
  job_id: jobId,
  project_id: projectId,
});

export const checkpointPayload = (checkpoint: Checkpoint, projectId: string): JobCheckpointPayload => ({
  ...wire({ ...checkpoint, size_bytes: Number(checkpoint.size_bytes) }),
  project_id: projectId,
});
