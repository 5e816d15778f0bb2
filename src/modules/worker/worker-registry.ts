import type { Redis } from 'ioredis';
import { workerKey, workersIndexKey } from '../../queue/redis-connection.js';

/**
 * A slot's learner child process: `starting` (first boot), `idle`, `running` a job, `restarting` (a fresh one
 * after a crash or a kill), `down` (could not start; tried again when the next job comes).
 */
export type LearnerState = 'starting' | 'idle' | 'running' | 'restarting' | 'down';

/** One device slot of a worker: at most one job, run by its own learner process. */
export interface SlotInfo {
  index: number;
  device: string;
  /** The backend the slot's learner has up, e.g. "wasm+blas"; null until it has started. */
  backend: string | null;
  job: string | null;
  learner: { pid: number | null; state: LearnerState; since: string };
  /** The slot's last learner crash (the process died, or its engine failed), null if none since boot. */
  last_crash: { at: string; job: string | null; error: string } | null;
}

/** One live worker process as its heartbeat describes it (the health endpoint lists these). */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  /** Comma-separated device slots, e.g. "cpu" or "cuda:0,cuda:1". */
  device: string;
  /** The learner backend in use (or the one that will be tried first), e.g. "wasm". */
  backend: string;
  /** Comma-separated ids of the jobs running now; "" when idle. */
  job: string;
  started_at: string;
  seen_at: string;
  slots: SlotInfo[];
}

/** The Redis hash of a heartbeat → WorkerInfo (`slots` is stored as JSON; heartbeats from before it have none). */
export function workerFromHash(fields: Record<string, string>): WorkerInfo {
  let slots: SlotInfo[] = [];
  try {
    const parsed: unknown = fields.slots ? JSON.parse(fields.slots) : [];
    if (Array.isArray(parsed)) slots = parsed as SlotInfo[];
  } catch {
    // A malformed field is shown as no slot data rather than failing the health check.
  }
  return { ...(fields as unknown as WorkerInfo), pid: Number(fields.pid), slots };
}

/** Where heartbeats go: a Redis hash per worker with a TTL, or process memory in embedded mode. */
export const WORKER_REGISTRY = Symbol('WORKER_REGISTRY');

export interface WorkerRegistry {
  beat(info: WorkerInfo, ttlS: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** Workers whose heartbeat has not expired, with the seconds left until it does. */
  list(): Promise<(WorkerInfo & { ttl_s: number })[]>;
}

/** At most this many workers are listed (the health endpoint's cost stays bounded however large a fleet). */
export const MAX_LISTED_WORKERS = 1000;

/**
 * The live workers, each with the seconds left on its heartbeat. Reads the index (a sorted set of worker ids
 * scored by heartbeat expiry) and the hashes of the unexpired ones in one pipeline: cost proportional to the live
 * workers, never a SCAN of the keyspace.
 */
export async function listLiveWorkers(
  redis: Redis,
  prefix: string,
): Promise<(WorkerInfo & { ttl_s: number })[]> {
  const now = Date.now();
  const flat = await redis.zrangebyscore(
    workersIndexKey(prefix),
    now,
    '+inf',
    'WITHSCORES',
    'LIMIT',
    0,
    MAX_LISTED_WORKERS,
  );
  const ids: { id: string; expires: number }[] = [];
  for (let i = 0; i < flat.length; i += 2) ids.push({ id: flat[i], expires: Number(flat[i + 1]) });
  if (!ids.length) return [];
  const rows = (await redis.pipeline(ids.map(({ id }) => ['hgetall', workerKey(prefix, id)])).exec()) ?? [];
  return ids
    .map(({ id, expires }, i) => {
      const r = (rows[i]?.[1] ?? {}) as Record<string, string>;
      // Expired between the two reads, or removed at shutdown: not live.
      if (!r.id) return undefined;
      return { ...workerFromHash(r), id: r.id || id, ttl_s: Math.max(0, Math.round((expires - now) / 1000)) };
    })
    .filter((w): w is WorkerInfo & { ttl_s: number } => w !== undefined)
    .sort((a, b) => a.id.localeCompare(b.id));
}

export class RedisWorkerRegistry implements WorkerRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async beat(info: WorkerInfo, ttlS: number): Promise<void> {
    const key = workerKey(this.prefix, info.id);
    const index = workersIndexKey(this.prefix);
    const now = Date.now();
    await this.redis
      .multi()
      .hset(key, { ...info, pid: String(info.pid), slots: JSON.stringify(info.slots) })
      .expire(key, ttlS)
      // The index the health endpoint reads instead of scanning: id scored by expiry; expired ids are pruned here.
      .zadd(index, now + ttlS * 1000, info.id)
      .zremrangebyscore(index, '-inf', now)
      .exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis.multi().del(workerKey(this.prefix, id)).zrem(workersIndexKey(this.prefix), id).exec();
  }

  async list(): Promise<(WorkerInfo & { ttl_s: number })[]> {
    return listLiveWorkers(this.redis, this.prefix);
  }
}

export class InMemoryWorkerRegistry implements WorkerRegistry {
  private readonly workers = new Map<string, { info: WorkerInfo; expires: number }>();

  async beat(info: WorkerInfo, ttlS: number): Promise<void> {
    this.workers.set(info.id, { info: structuredClone(info), expires: Date.now() + ttlS * 1000 });
  }

  async remove(id: string): Promise<void> {
    this.workers.delete(id);
  }

  async list(): Promise<(WorkerInfo & { ttl_s: number })[]> {
    const now = Date.now();
    return [...this.workers.values()]
      .filter((w) => w.expires > now)
      .map((w) => ({ ...structuredClone(w.info), ttl_s: Math.ceil((w.expires - now) / 1000) }));
  }
}
