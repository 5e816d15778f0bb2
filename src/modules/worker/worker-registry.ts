import type { Redis } from 'ioredis';
import { workerKey } from '../../queue/redis-connection.js';

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
}

/** Where heartbeats go: a Redis hash per worker with a TTL, or process memory in embedded mode. */
export const WORKER_REGISTRY = Symbol('WORKER_REGISTRY');

export interface WorkerRegistry {
  beat(info: WorkerInfo, ttlS: number): Promise<void>;
  remove(id: string): Promise<void>;
  /** Workers whose heartbeat has not expired. */
  list(): Promise<WorkerInfo[]>;
}

export class RedisWorkerRegistry implements WorkerRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async beat(info: WorkerInfo, ttlS: number): Promise<void> {
    const key = workerKey(this.prefix, info.id);
    await this.redis
      .multi()
      .hset(key, { ...info, pid: String(info.pid) })
      .expire(key, ttlS)
      .exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis.del(workerKey(this.prefix, id));
  }

  async list(): Promise<WorkerInfo[]> {
    const keys: string[] = [];
    // SCAN, not KEYS: a shared production Redis must not block on a full keyspace walk.
    for await (const batch of this.redis.scanStream({ match: workerKey(this.prefix, '*'), count: 200 })) {
      keys.push(...(batch as string[]));
    }
    const rows = await Promise.all(keys.map((k) => this.redis.hgetall(k)));
    return rows
      .filter((r) => r.id)
      .map((r) => ({ ...(r as unknown as WorkerInfo), pid: Number(r.pid) }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }
}

export class InMemoryWorkerRegistry implements WorkerRegistry {
  private readonly workers = new Map<string, { info: WorkerInfo; expires: number }>();

  async beat(info: WorkerInfo, ttlS: number): Promise<void> {
    this.workers.set(info.id, { info: { ...info }, expires: Date.now() + ttlS * 1000 });
  }

  async remove(id: string): Promise<void> {
    this.workers.delete(id);
  }

  async list(): Promise<WorkerInfo[]> {
    const now = Date.now();
    return [...this.workers.values()].filter((w) => w.expires > now).map((w) => ({ ...w.info }));
  }
}
