import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApiApp } from '../../src/apps/bootstrap-api.js';
import { type AppConfig, loadConfig } from '../../src/config/index.js';
import type { JobQueue } from '../../src/queue/job-queue.js';
import type { TestDatabase } from './db.js';

export const TEST_ADMIN_KEY = 'test-admin-key-0123456789abcdef';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestApi {
  app: NestExpressApplication;
  baseUrl: string;
  config: AppConfig;
  dataDir: string;
  /** fetch relative to the API with an optional bearer token; JSON bodies are serialised for you. */
  request(
    method: string,
    path: string,
    opts?: { token?: string; json?: unknown; body?: BodyInit; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; body: any }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Creates a project and a key for it through the admin API. */
  createProject(name?: string): Promise<{ projectId: string; token: string }>;
  close(): Promise<void>;
}

/**
 * Boots the real API (NestFactory + listen(0)) on a test database. Migrations already ran in
 * createTestDatabase, so they are skipped here unless `env.MIGRATIONS_RUN` says otherwise.
 */
export async function startTestApi(opts: {
  db: TestDatabase;
  queue: JobQueue;
  env?: Record<string, string>;
}): Promise<TestApi> {
  const dataDir = await mkdtemp(join(tmpdir(), 'popo-test-'));
  const config = loadConfig({
    DATABASE_URL: opts.db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: `popo-test-${opts.db.name}`,
    POPO_ADMIN_KEY: TEST_ADMIN_KEY,
    POPO_DATA_DIR: dataDir,
    MIGRATIONS_RUN: 'false',
    LOG_LEVEL: 'error',
    ...opts.env,
  });
  const app = await createApiApp({ config, queue: opts.queue });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const baseUrl = `http://127.0.0.1:${address.port}`;

  const { request, createProject } = httpHelpers(baseUrl);

  return {
    app,
    baseUrl,
    config,
    dataDir,
    request,
    createProject,
    async close() {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** fetch relative to a server with an optional bearer token, and a project + key made through the admin API. */
export function httpHelpers(baseUrl: string): Pick<TestApi, 'request' | 'createProject'> {
  const request: TestApi['request'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let body = o.body;
    if (o.json !== undefined) {
      body = JSON.stringify(o.json);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(baseUrl + path, { method, headers, body, duplex: 'half' } as RequestInit);
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed };
  };
  const createProject = async (name = 'test project') => {
    const p = await request('POST', '/v1/projects', { token: TEST_ADMIN_KEY, json: { name } });
    if (p.status !== 201) throw new Error(`create project: ${p.status} ${JSON.stringify(p.body)}`);
    const k = await request('POST', `/v1/projects/${p.body.id}/keys`, {
      token: TEST_ADMIN_KEY,
      json: { name: 'test' },
    });
    if (k.status !== 201) throw new Error(`create key: ${k.status} ${JSON.stringify(k.body)}`);
    return { projectId: p.body.id as string, token: k.body.token as string };
  };
  return { request, createProject };
}
