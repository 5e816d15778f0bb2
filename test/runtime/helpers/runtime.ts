import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { createApiApp } from '../../../src/apps/bootstrap-api.js';
import { type AppConfig, loadConfig } from '../../../src/config/index.js';
import { apiRuntimeImports } from '../../../src/modules/realtime/api-imports.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../src/modules/realtime/events.js';
import { loadRuntimeConfig } from '../../../src/modules/worker/runtime-config.js';
import type { JobQueue } from '../../../src/queue/job-queue.js';
import { httpHelpers, TEST_ADMIN_KEY, TEST_REDIS_URL } from '../../helpers/api.js';
import type { TestDatabase } from '../../helpers/db.js';
import { DIST_MAIN } from '../../helpers/dist.js';

export { TEST_ADMIN_KEY, TEST_REDIS_URL };

export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export interface RuntimeApi {
  app: NestExpressApplication;
  baseUrl: string;
  config: AppConfig;
  request(
    method: string,
    path: string,
    opts?: { token?: string; json?: unknown; body?: BodyInit; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  createProject(name?: string): Promise<{ projectId: string; token: string }>;
  close(): Promise<void>;
}

/**
 * The real API with the runtime wired in (gateway, job.changed handlers, webhooks), on a test database and a
 * Redis prefix of the test file's own, so files running in parallel never share queues or channels.
 */
export async function startRuntimeApi(opts: {
  db: TestDatabase;
  prefix: string;
  env?: Record<string, string>;
  queue?: JobQueue;
  /** More modules for the API (e.g. the embedded-credentials module). */
  imports?: NonNullable<Parameters<typeof createApiApp>[0]['imports']>;
}): Promise<RuntimeApi> {
  const dataDir = await mkdtemp(join(tmpdir(), 'popo-rt-'));
  const env = {
    DATABASE_URL: opts.db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: opts.prefix,
    POPO_ADMIN_KEY: TEST_ADMIN_KEY,
    POPO_DATA_DIR: dataDir,
    MIGRATIONS_RUN: 'false',
    LOG_LEVEL: 'error',
    ...opts.env,
  };
  const config = loadConfig(env);
  const app = await createApiApp({
    config,
    queue: opts.queue,
    imports: [...apiRuntimeImports(loadRuntimeConfig(env)), ...(opts.imports ?? [])],
  });
  await app.listen(0, '127.0.0.1');
  const baseUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const { request, createProject } = httpHelpers(baseUrl);
  return {
    app,
    baseUrl,
    config,
    request,
    createProject,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A socket.io client authenticated with `token`; resolves once connected, rejects with the server's reason. */
export async function connectSocket(baseUrl: string, token: string | undefined): Promise<ClientSocket> {
  const socket: ClientSocket = io(baseUrl, {
    auth: token === undefined ? {} : { token },
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => {
      socket.close();
      reject(err);
    });
  });
  return socket;
}

/** Records every server event a socket receives, in order. */
export function recordEvents(socket: ClientSocket) {
  const seen: { event: keyof ServerToClientEvents; payload: any }[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
  for (const event of ['job.status', 'job.metrics', 'job.checkpoint', 'job.event'] as const) {
    socket.on(event, (payload: unknown) => seen.push({ event, payload }));
  }
  return seen;
}

export async function waitFor<T>(
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  ms = 30_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** Resolves when the worker logs that it takes jobs. */
  ready: Promise<void>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns the real worker entry, compiled: `node dist/src/main.js worker`. */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, [DIST_MAIN, 'worker'], {
    env: { ...process.env, LOG_LEVEL: 'log', NO_COLOR: '1', MIGRATIONS_RUN: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = (async () => {
    const end = Date.now() + 60_000;
    while (!out.includes('taking jobs on')) {
      if (child.exitCode !== null) throw new Error(`worker exited early:\n${out}`);
      if (Date.now() > end) throw new Error(`worker not ready after 60 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    child,
    output: () => out,
    ready,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Deletes every Redis key under a test prefix. */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    await redis.quit();
  }
}
