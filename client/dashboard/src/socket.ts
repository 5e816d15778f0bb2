import { io, type Socket } from 'socket.io-client';
import { auth } from './api.js';

/**
 * The payloads of src/modules/realtime/events.ts (the REST DTOs), as far as the pages read them: `job.status` is
 * the job itself (its id is `id`), the others name their job in `job_id`.
 */
export interface StatusMsg {
  id: string;
  status: string;
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
export interface MetricsMsg {
  job_id: string;
  step: number;
  values: Record<string, number | string>;
}
export interface EventMsg {
  job_id: string;
  id: number;
  level: 'info' | 'warning' | 'error';
  code: string;
  message: string;
  step: number | null;
  data: Record<string, unknown> | null;
  created_at: string;
}
export interface CheckpointMsg {
  job_id: string;
  id: string;
  step: number;
  sha256: string;
  size_bytes: number;
  created_at: string;
}

export interface Handlers {
  'job.status'?: (m: StatusMsg) => void;
  'job.metrics'?: (m: MetricsMsg) => void;
  'job.event'?: (m: EventMsg) => void;
  'job.checkpoint'?: (m: CheckpointMsg) => void;
}

type Listener = (state: 'live' | 'connecting' | 'offline', reason?: string) => void;

let socket: Socket | undefined;
let socketKey: string | null = null;
const rooms = new Map<string, number>();
/** The highest step seen per job: a resubscription after a reconnect asks the server to replay what came after. */
const lastSteps = new Map<string, number>();
const stateListeners = new Set<Listener>();
let state: Parameters<Listener>[0] = 'connecting';

function setState(s: typeof state, reason?: string) {
  state = s;
  for (const l of stateListeners) l(s, reason);
}

/** One socket per signed-in key; rooms are reference-counted so pages can subscribe and leave independently. */
function connection(): Socket {
  if (socket && socketKey === auth.key) return socket;
  socket?.close();
  socketKey = auth.key;
  socket = io({ path: new URL('socket.io', location.href).pathname, auth: { token: socketKey } });
  socket.on('connect', () => {
    setState('live');
    // After a reconnect the server has forgotten our rooms; a job's room resumes from its last step (the server
    // replays the steps recorded while we were away).
    for (const room of rooms.keys()) {
      const req = JSON.parse(room) as { job_id?: string };
      const since = req.job_id ? lastSteps.get(req.job_id) : undefined;
      socket!.emit('subscribe', since !== undefined ? { ...req, since_step: since } : req, () => undefined);
    }
  });
  socket.on('job.metrics', (m: MetricsMsg) => {
    if (m.step > (lastSteps.get(m.job_id) ?? 0)) lastSteps.set(m.job_id, m.step);
  });
  socket.on('disconnect', () => setState('connecting'));
  socket.on('connect_error', (e: Error) => setState('offline', e.message));
  return socket;
}

export function onSocketState(l: Listener): () => void {
  stateListeners.add(l);
  l(state);
  return () => stateListeners.delete(l);
}

export function closeSocket(): void {
  socket?.close();
  socket = undefined;
  rooms.clear();
  lastSteps.clear();
}

/**
 * Subscribes to a job (`{ job_id }`) or the whole project (`{}`) and routes its events to `handlers`, filtered
 * to that job. Returns the unsubscribe function. The server first replays the current status and the latest
 * metrics, then streams.
 */
export function subscribe(req: { job_id?: string }, handlers: Handlers): () => void {
  const s = connection();
  const room = JSON.stringify(req);
  rooms.set(room, (rooms.get(room) ?? 0) + 1);
  const wrapped = Object.entries(handlers).map(([event, fn]) => {
    const h = (m: { job_id?: string; id?: string }) => {
      const jobId = event === 'job.status' ? m.id : m.job_id;
      if (!req.job_id || jobId === req.job_id) (fn as (x: unknown) => void)(m);
    };
    s.on(event, h);
    return [event, h] as const;
  });
  // Not yet connected: the connect handler subscribes every room. Connected: ask again even for a room we
  // are in, so this page gets the status and latest-metrics replay too.
  if (s.connected) s.emit('subscribe', req, () => undefined);
  return () => {
    for (const [event, h] of wrapped) s.off(event, h);
    const left = (rooms.get(room) ?? 1) - 1;
    if (left > 0) rooms.set(room, left);
    else {
      rooms.delete(room);
      if (s.connected) s.emit('unsubscribe', req, () => undefined);
    }
  };
}
