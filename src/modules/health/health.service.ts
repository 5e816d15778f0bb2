import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../config/index.js';
import { createRedisClient, workerKey } from '../../queue/redis-connection.js';
import {
  WORKER_REGISTRY,
  workerFromHash,
  type WorkerInfo,
  type WorkerRegistry,
} from '../worker/worker-registry.js';
import type { DependencyHealthDto, HealthDto, WorkerHealthDto } from './health.dto.js';

const TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${what} did not answer within ${TIMEOUT_MS} ms`)),
        TIMEOUT_MS,
      ).unref(),
    ),
  ]);
}

/**
 * Database and Redis reachability plus the live workers. Workers heartbeat into Redis hashes
 * `<prefix>:worker:<id>` (fields id, host, pid, device, backend, job, slots) with a TTL; a worker is live while
 * its key exists. Without Redis (`all` mode), the worker of this very process heartbeats into memory: its
 * registry is read instead.
 */
function workerDto(w: Partial<WorkerInfo> & Pick<WorkerInfo, 'id' | 'slots'>, ttl: number): WorkerHealthDto {
  return {
    id: w.id,
    host: w.host || null,
    pid: Number.isInteger(w.pid) ? (w.pid as number) : null,
    device: w.device || null,
    backend: w.backend || null,
    job: w.job || null,
    ttl_s: ttl,
    slots: w.slots,
  };
}

@Injectable()
export class HealthService implements OnModuleDestroy {
  private redis?: Redis;

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Optional() @Inject(WORKER_REGISTRY) private readonly localWorkers?: WorkerRegistry,
  ) {}

  async check(): Promise<HealthDto> {
    const [database, redisResult] = await Promise.all([this.database(), this.redisAndWorkers()]);
    const ok = database.ok && (redisResult.redis.ok || !redisResult.redis.configured);
    return { status: ok ? 'ok' : 'degraded', database, ...redisResult };
  }

  private async database(): Promise<DependencyHealthDto> {
    const t0 = performance.now();
    try {
      await withTimeout(this.db.query('SELECT 1'), 'Postgres');
      return { ok: true, configured: true, latency_ms: Math.round(performance.now() - t0) };
    } catch (e) {
      return { ok: false, configured: true, error: (e as Error).message };
    }
  }

  private async redisAndWorkers(): Promise<{ redis: DependencyHealthDto; workers: WorkerHealthDto[] }> {
    if (!this.config.redisUrl) {
      const local = (await this.localWorkers?.list()) ?? [];
      return { redis: { ok: false, configured: false }, workers: local.map((w) => workerDto(w, w.ttl_s)) };
    }
    if (!this.redis) {
      this.redis = createRedisClient(
        { url: this.config.redisUrl, prefix: this.config.redisPrefix },
        'health',
      );
      // Connection errors reach the caller through the failed ping below; the event would only be log noise.
      this.redis.on('error', () => undefined);
    }
    const t0 = performance.now();
    try {
      await withTimeout(this.redis.ping(), 'Redis');
      const latency = Math.round(performance.now() - t0);
      return {
        redis: { ok: true, configured: true, latency_ms: latency },
        workers: await this.workers(this.redis),
      };
    } catch (e) {
      return { redis: { ok: false, configured: true, error: (e as Error).message }, workers: [] };
    }
  }

  private async workers(redis: Redis): Promise<WorkerHealthDto[]> {
    const pattern = workerKey(this.config.redisPrefix, '*');
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    const workers = await Promise.all(
      keys.sort().map(async (key) => {
        const [fields, ttl] = await Promise.all([redis.hgetall(key), redis.ttl(key)]);
        if (Object.keys(fields).length === 0) return undefined; // expired between SCAN and HGETALL
        const prefixLen = workerKey(this.config.redisPrefix, '').length;
        return workerDto({ ...workerFromHash(fields), id: fields.id || key.slice(prefixLen) }, ttl);
      }),
    );
    return workers.filter((w): w is WorkerHealthDto => w !== undefined);
  }

  async onModuleDestroy(): Promise<void> {
    // disconnect, not quit: quit would wait on a Redis that may be unreachable (the case health reports).
    this.redis?.disconnect();
  }
}
