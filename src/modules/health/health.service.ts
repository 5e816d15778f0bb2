import { Inject, Injectable, type OnModuleDestroy, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { AppConfig } from '../../config/index.js';
import { createRedisClient } from '../../queue/redis-connection.js';
import {
  listLiveWorkers,
  WORKER_REGISTRY,
  type WorkerInfo,
  type WorkerRegistry,
} from '../worker/worker-registry.js';
import type { DependencyHealthDto, HealthDto, WorkerHealthDto } from './health.dto.js';

const TIMEOUT_MS = 2_000;
/** A report is reused for this long: a burst of health checks costs one ping each per second, not one per request. */
const CACHE_MS = 1_000;

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
 * `<prefix>:worker:<id>` with a TTL and into the index `<prefix>:workers` (id scored by expiry), which is what is
 * read here: the cost is a ping each and one read per live worker, never a keyspace SCAN. Reports are shared
 * for CACHE_MS (single flight), so the public endpoint is cheap under load.
 * Without Redis (`all` mode), the worker of this very process heartbeats into memory: its registry is read instead.
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
  private cached?: { at: number; report: Promise<HealthDto> };

  constructor(
    private readonly config: AppConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Optional() @Inject(WORKER_REGISTRY) private readonly localWorkers?: WorkerRegistry,
  ) {}

  check(): Promise<HealthDto> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= CACHE_MS) this.cached = { at: now, report: this.fresh() };
    return this.cached.report;
  }

  private async fresh(): Promise<HealthDto> {
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
    const live = await withTimeout(listLiveWorkers(redis, this.config.redisPrefix), 'Redis');
    return live.map((w) => workerDto(w, w.ttl_s));
  }

  async onModuleDestroy(): Promise<void> {
    // disconnect, not quit: quit would wait on a Redis that may be unreachable (the case health reports).
    this.redis?.disconnect();
  }
}
