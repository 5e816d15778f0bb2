import { request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiApp } from '../../src/apps/bootstrap-api.js';
import { loadConfig } from '../../src/config/index.js';
import {
  EmbeddedCredentialsModule,
  isLoopbackRequest,
} from '../../src/modules/dashboard/embedded-credentials.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { RecordingQueue } from '../helpers/recording-queue.js';

type Reply = { status: number; body: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A GET with full control of the Host and Origin headers (fetch may not set Host). */
function get(port: number, path: string, headers: Record<string, string> = {}) {
  return new Promise<Reply>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function start(db: TestDatabase, dir: string, embedded: boolean) {
  const config = loadConfig({
    DATABASE_URL: db.url,
    POPO_DATA_DIR: dir,
    MIGRATIONS_RUN: 'false',
    LOG_LEVEL: 'error',
    // No bundle here: `/` must say how to build it.
    POPO_DASHBOARD_DIR: join(dir, 'no-dashboard'),
  });
  const app = await createApiApp({
    config,
    queue: new RecordingQueue(),
    imports: embedded ? [EmbeddedCredentialsModule.forRoot({ file: join(dir, 'credentials.json') })] : [],
  });
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as { port: number }).port };
}

describe('isLoopbackRequest', () => {
  const req = (remoteAddress: string, headers: Record<string, string>) => ({
    socket: { remoteAddress },
    headers,
  });
  it('accepts a loopback peer that names a loopback host', () => {
    expect(isLoopbackRequest(req('127.0.0.1', { host: '127.0.0.1:3000' }))).toBe(true);
    expect(isLoopbackRequest(req('::1', { host: 'localhost:3000', origin: 'http://localhost:3000' }))).toBe(
      true,
    );
    expect(isLoopbackRequest(req('::ffff:127.0.0.1', { host: '[::1]:3000' }))).toBe(true);
  });
  it('refuses other peers, rebound host names and foreign origins', () => {
    expect(isLoopbackRequest(req('10.0.0.5', { host: 'localhost:3000' }))).toBe(false);
    expect(isLoopbackRequest(req('127.0.0.1', { host: 'attacker.example:3000' }))).toBe(false);
    expect(isLoopbackRequest(req('127.0.0.1', { host: 'localhost.attacker.example' }))).toBe(false);
    expect(
      isLoopbackRequest(req('127.0.0.1', { host: 'localhost:3000', origin: 'http://attacker.example' })),
    ).toBe(false);
    expect(isLoopbackRequest(req('127.0.0.1', { host: 'localhost:3000', origin: 'null' }))).toBe(false);
    expect(isLoopbackRequest(req('127.0.0.1', {}))).toBe(false);
  });
});

describe('GET /v1/embedded/credentials', () => {
  let db: TestDatabase;
  let dir: string;
  const apps: NestExpressApplication[] = [];
  let embedded: number;
  let plain: number;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'popo-creds-'));
    const a = await start(db, dir, true);
    const b = await start(db, dir, false);
    apps.push(a.app, b.app);
    embedded = a.port;
    plain = b.port;
  });

  afterAll(async () => {
    for (const app of apps) await app.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is 404 until the first boot has written the file, then hands the key to a local browser', async () => {
    expect((await get(embedded, '/v1/embedded/credentials', { host: `127.0.0.1:${embedded}` })).status).toBe(
      404,
    );
    await writeFile(join(dir, 'credentials.json'), JSON.stringify({ api_key: 'popo_k', project_id: 'p1' }));
    const res = await get(embedded, '/v1/embedded/credentials', { host: `localhost:${embedded}` });
    expect(res).toEqual({ status: 200, body: { api_key: 'popo_k', project_id: 'p1' } });
  });

  it('refuses a rebound host name or a foreign origin, and outside embedded mode', async () => {
    const refused = [
      await get(embedded, '/v1/embedded/credentials', { host: 'attacker.example' }),
      await get(embedded, '/v1/embedded/credentials', {
        host: `localhost:${embedded}`,
        origin: 'https://attacker.example',
      }),
      await get(plain, '/v1/embedded/credentials', { host: `localhost:${plain}` }),
    ];
    for (const res of refused) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
      expect(JSON.stringify(res.body)).not.toContain('popo_k');
    }
  });

  it('says how to build the dashboard when the bundle is missing', async () => {
    const res = await get(plain, '/', { host: `localhost:${plain}` });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toContain('npm run build');
  });
});
