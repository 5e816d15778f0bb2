import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from './db.js';
import { DIST_CLI } from './dist.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  type WorkerProcess,
} from '../runtime/helpers/runtime.js';

/** The whole service for client-side tests: the API in this process, one real CPU worker, Postgres and Redis. */
export interface TestService {
  db: TestDatabase;
  api: RuntimeApi;
  worker: WorkerProcess;
  /** A project key. */
  token: string;
  stop(): Promise<void>;
}

export async function startTestService(name: string): Promise<TestService> {
  const prefix = `popo-test-${name}-${randomBytes(4).toString('hex')}`;
  const db = await createTestDatabase();
  const api = await startRuntimeApi({ db, prefix });
  const token = (await api.createProject(name)).token;
  const worker = spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: `${name}-worker-1`,
    POPO_WORKER_DEVICES: 'cpu',
  });
  await worker.ready;
  return {
    db,
    api,
    worker,
    token,
    async stop() {
      const code = await worker.stop('SIGTERM');
      if (code !== 0 && code !== null) console.log(worker.output());
      await api.close();
      await db.drop();
      await dropRedisPrefix(prefix);
    },
  };
}

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment without any popo connection settings (so a test says exactly which it gives). */
export function envWithoutPopo(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => !/^POPO_(URL|API_URL|API_KEY|DATA_DIR)$/.test(e[0]) && e[1] !== undefined,
    ),
  );
}

/** Runs a command (default: the compiled `popo` CLI) to its end and collects its output. */
export function runCommand(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; command?: string } = {},
): Promise<CliRun> {
  const [command, argv] = opts.command ? [opts.command, args] : [process.execPath, [DIST_CLI, ...args]];
  const child = spawn(command, argv, {
    cwd: opts.cwd,
    env: { ...envWithoutPopo(), NO_COLOR: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
