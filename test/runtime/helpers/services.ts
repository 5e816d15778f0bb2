import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';

/**
 * Postgres and Redis servers of a test's own, on free ports, that the test stops, kills and restarts to inject
 * infrastructure faults. The shared servers on :5432 and :6379 are never touched.
 */

const run = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function waitUntil(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function pgBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) throw new Error(`no Postgres server binaries under ${root}`);
  return join(root, versions[0], 'bin');
}

export interface PgServer {
  port: number;
  /** A database on this server, created by `createDatabase`. */
  url(db: string): string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** `pg_ctl restart -m fast`: every connection is terminated ("administrator command"), down for about 0.5 s. */
  restart(): Promise<void>;
  destroy(): Promise<void>;
}

/** initdb into a temporary directory and start a server on a free port (as user `postgres` when run as root). */
export async function startPostgres(): Promise<PgServer> {
  const bin = pgBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'popo-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const uid = Number(stdout.trim());
    const { stdout: g } = await run('id', ['-g', 'postgres']);
    await chown(dir, uid, Number(g.trim()));
    await chmod(dir, 0o700);
  }
  const pgRun = (cmd: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args);
  await pgRun('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const opts = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=127.0.0.1`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
  ].join(' ');
  const ctl = (action: string, extra: string[] = []) =>
    pgRun('pg_ctl', [action, '-D', data, '-w', '-t', '60', '-l', join(dir, 'log'), '-o', opts, ...extra]);
  const url = (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const ready = () =>
    waitUntil('Postgres to accept connections', 60_000, async () => {
      const c = new pg.Client({ connectionString: url('postgres') });
      try {
        await c.connect();
        await c.query('SELECT 1');
        return true;
      } finally {
        await c.end().catch(() => undefined);
      }
    });
  await ctl('start');
  await ready();
  return {
    port,
    url,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url('postgres') });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    async stop() {
      await ctl('stop', ['-m', 'fast']);
    },
    async start() {
      await ctl('start');
      await ready();
    },
    async restart() {
      await ctl('restart', ['-m', 'fast']);
      await ready();
    },
    async destroy() {
      await ctl('stop', ['-m', 'immediate']).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisServer {
  port: number;
  url: string;
  /** SIGKILL: no save, nothing survives (persistence is off). */
  kill(): Promise<void>;
  /** Starts again on the same port, empty. */
  start(): Promise<void>;
  running(): boolean;
  destroy(): Promise<void>;
}

/** A redis-server without persistence on a free port. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    await waitUntil('Redis to answer', 30_000, async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    });
  };
  const kill = async () => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  };
  const running = () => !!child && child.exitCode === null && child.signalCode === null;
  await start();
  return { port, url, kill, start, running, destroy: kill };
}
