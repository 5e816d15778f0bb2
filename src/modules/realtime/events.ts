import type { CheckpointDto } from '../checkpoints/dto/checkpoint.dto.js';
import type { JobEventDto } from '../jobs/dto/job-events.dto.js';
import type { JobDto } from '../jobs/dto/job.dto.js';
import type { MetricPointDto } from '../metrics/dto/metrics.dto.js';

/**
 * The socket.io contract. Every emit (gateway, worker emitter, tests' client) is typed by these maps, so a payload
 * change is a compile error everywhere it matters (immich's pattern). The payloads are the REST DTOs (what
 * GET /v1/jobs/:id, /events, /metrics and /checkpoints return), plus the ids a subscriber routes by; as JSON,
 * dates are ISO strings.
 */

/** A DTO as it travels in JSON: Date fields become ISO strings. */
export type Wire<T> = {
  [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K];
};

/** The job, as GET /v1/jobs/:id shows it. */
export type JobStatusPayload = Wire<JobDto>;
/** A point of GET /v1/jobs/:id/metrics. */
export type JobMetricsPayload = MetricPointDto & { job_id: string; project_id: string };
/** An item of GET /v1/jobs/:id/checkpoints. */
export type JobCheckpointPayload = Wire<CheckpointDto> & { project_id: string };
/** An item of GET /v1/jobs/:id/events. */
export type JobEventPayload = Wire<JobEventDto> & { project_id: string };

export interface ServerToClientEvents {
  'job.status': (payload: JobStatusPayload) => void;
  'job.metrics': (payload: JobMetricsPayload) => void;
  'job.checkpoint': (payload: JobCheckpointPayload) => void;
  'job.event': (payload: JobEventPayload) => void;
}

export type RealtimeEvent = keyof ServerToClientEvents;
export type PayloadOf<E extends RealtimeEvent> = Parameters<ServerToClientEvents[E]>[0];

/** Subscribe to one job (`job_id`) or to every job of the caller's project (`project_id`, or neither). */
export interface SubscribeRequest {
  job_id?: string;
  project_id?: string;
  /**
   * With `job_id`: the last step this client has. Every recorded step after it is sent first (from Postgres),
   * then live ones, so a client that reconnects misses nothing. Keep one point per step: a step recorded while
   * the replay runs may arrive twice.
   */
  since_step?: number;
}

export type SubscribeAck =
  | {
      ok: true;
      room: string;
      status?: JobStatusPayload;
      latest_metrics?: JobMetricsPayload;
      /** With `since_step`: how many steps were replayed. */
      replayed?: number;
    }
  | { ok: false; error: { code: string; message: string } };

export interface ClientToServerEvents {
  subscribe: (req: SubscribeRequest, ack: (res: SubscribeAck) => void) => void;
  unsubscribe: (req: SubscribeRequest, ack: (res: SubscribeAck) => void) => void;
}

export const jobRoom = (jobId: string) => `job:${jobId}`;
export const projectRoom = (projectId: string) => `project:${projectId}`;
