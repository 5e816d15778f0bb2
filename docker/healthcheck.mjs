// Container health for the popo images (compose.yaml runs it): `node docker/healthcheck.mjs api|worker`.
//   api     GET /v1/health on this container answers 200: Postgres and Redis reachable (503 otherwise).
//   worker  this container's worker has a live heartbeat in Redis, `<POPO_REDIS_PREFIX>:worker:<id>`: the key
//           expires unless the worker refreshes it, so a hung process turns unhealthy. The id is POPO_WORKER_ID,
//           or by default `<hostname>-<pid>-<random>` (the hostname is the container's, so replicas never match
//           each other's keys).
// Exit 0 healthy, 1 not; one line on stderr says why.
/* global fetch, AbortSignal -- Node 20 has both */
import { hostname } from 'node:os';

const mode = process.argv[2];
const fail = (why) => {
  process.stderr.write(`unhealthy: ${why}\n`);
  process.exit(1);
};

if (mode === 'api') {
  const url = `http://127.0.0.1:${process.env.PORT || 3000}/v1/health`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) }).catch((e) =>
    fail(`${url}: ${e.message}`),
  );
  if (res.status !== 200) fail(`${url} answered ${res.status}: ${await res.text()}`);
} else if (mode === 'worker') {
  const { Redis } = await import('ioredis');
  const prefix = process.env.POPO_REDIS_PREFIX || 'popo';
  const pattern = process.env.POPO_WORKER_ID
    ? `${prefix}:worker:${process.env.POPO_WORKER_ID}`
    : `${prefix}:worker:${hostname()}-*`;
  const redis = new Redis(process.env.REDIS_URL || 'redis://127.0.0.1:6379', {
    lazyConnect: true,
    connectTimeout: 5_000,
    maxRetriesPerRequest: 1,
  });
  redis.on('error', () => undefined); // reported through the failed command below
  try {
    await redis.connect();
    let cursor = '0';
    let found = false;
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      found ||= keys.length > 0;
      cursor = next;
    } while (cursor !== '0' && !found);
    if (!found) fail(`no heartbeat ${pattern} in Redis`);
  } catch (e) {
    fail(`Redis: ${e.message}`);
  } finally {
    redis.disconnect();
  }
} else {
  fail(`usage: node docker/healthcheck.mjs api|worker (got "${mode ?? ''}")`);
}
