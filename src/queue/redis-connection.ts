import { Redis } from 'ioredis';

/** Where the Redis-backed drivers live. `prefix` namespaces every key so deployments (and test files) can share one Redis. */
export interface RedisSettings {
  url: string;
  prefix: string;
}

export const DEFAULT_REDIS_PREFIX = 'popo';

/**
 * A plain ioredis client for our own keys (heartbeats, pub/sub). BullMQ opens its own connections from the URL;
 * `maxRetriesPerRequest: null` keeps a client usable across a Redis restart instead of failing queued commands.
 */
export function createRedisClient(settings: RedisSettings, name: string): Redis {
  const redis = new Redis(settings.url, {
    maxRetriesPerRequest: null,
    connectionName: `popo:${name}`,
    lazyConnect: false,
  });
  // ioredis reconnects by itself; without a listener every failed attempt of an outage prints a stack trace.
  // One line per outage is enough (the health endpoint reports the state).
  let reported = false;
  redis.on('error', (err: Error) => {
    if (reported) return;
    reported = true;
    console.warn(`[redis ${name}] ${err.message}; reconnecting`);
  });
  redis.on('ready', () => (reported = false));
  return redis;
}

/** Sorted set of worker ids scored by heartbeat expiry (ms): how the health endpoint finds live workers. */
export function workersIndexKey(prefix: string): string {
  return `${prefix}:workers`;
}

/** Redis key for one live worker's heartbeat hash (read by the health endpoint). */
export function workerKey(prefix: string, workerId: string): string {
  return `${prefix}:worker:${workerId}`;
}
