import type { JobStatus } from '../../database/entities/index.js';

/**
 * The socket.io contract. Every emit (gateway, worker emitter, tests' client) is typed by these maps, so a payload
 * change is a compile error everywhere it matters (immich's pattern). Payloads are JSON: dates are ISO strings.
 */

export interface JobStatusPayload {
  job_id: string;
  project_id: string;
  status: JobStatus;
  progress_step: number;
  total_steps: number | null;
  attempts: number;
  error: string | null;
  backend: string | null;
  device: string | null;
  worker_id: string | null;
  stop_requested: string | null;
  updated_at: string;
}

export interface JobMetricsPayload {
  job_id: string;
  project_id: string;
  step: number;
  /** StepMetrics minus `step`: the common core plus the fields of the job's algorithm. */
  values: Record<string, number | string>;
}

export interface JobCheckpointPayload {
  job_id: string;
  project_id: string;
  checkpoint_id: string;
  step: number;
  sha256: string;
  size_bytes: number;
  created_at: string;
}

export interface JobEventPayload {
  job_id: string;
  project_id: string;
  id: number;
  level: 'info' | 'warning' | 'error';
  code: string;
  message: string;
  step: number | null;
  data: Record<string, unknown> | null;
  created_at: string;
}

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
}

export type SubscribeAck =
  | { ok: true; room: string; status?: JobStatusPayload; latest_metrics?: JobMetricsPayload }
  | { ok: false; error: { code: string; message: string } };

export interface ClientToServerEvents {
  subscribe: (req: SubscribeRequest, ack: (res: SubscribeAck) => void) => void;
  unsubscribe: (req: SubscribeRequest, ack: (res: SubscribeAck) => void) => void;
}

export const jobRoom = (jobId: string) => `job:${jobId}`;
export const projectRoom = (projectId: string) => `project:${projectId}`;
