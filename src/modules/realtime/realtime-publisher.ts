import type { PayloadOf, RealtimeEvent } from './events.js';
import { jobRoom, projectRoom } from './events.js';

/**
 * How any process announces a job's progress to subscribed sockets. The API (and embedded mode) emits through
 * its own socket.io server, whose Redis adapter fans out to the other API instances; a worker process has no
 * server and publishes into the same adapter channel with the socket.io Redis emitter.
 */
export const REALTIME_PUBLISHER = Symbol('REALTIME_PUBLISHER');

export interface RealtimePublisher {
  emit<E extends RealtimeEvent>(event: E, payload: PayloadOf<E>): void;
}

/**
 * Every payload names its job (`job_id`, or `id` for the job itself) and project, so it reaches both kinds of
 * subscriber (a socket in both rooms gets one copy).
 */
export function roomsFor(
  payload: { job_id: string; project_id: string } | { id: string; project_id: string },
): string[] {
  return [jobRoom('job_id' in payload ? payload.job_id : payload.id), projectRoom(payload.project_id)];
}

/** The key of the socket.io Redis adapter channel, shared by the adapter (API) and the emitter (workers). */
export const socketIoKey = (redisPrefix: string) => `${redisPrefix}:socket.io`;
