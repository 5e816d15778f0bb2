import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPopoClient } from '../../client/sdk/index.js';
import { httpHelpers, TEST_ADMIN_KEY } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { DIST_MAIN } from '../helpers/dist.js';
import {
  type ClientSocket,
  connectSocket,
  dropRedisPrefix,
  spawnWorker,
  TEST_REDIS_URL,
  waitFor,
  type WorkerProcess,
} from './helpers/runtime.js';
import { freePort } from './helpers/services.js';

/**
 * The API process is SIGKILLed mid-job and started again on the same port: socket clients reconnect and
 * resubscribe with their last step; the server replays the missed steps from Postgres, so each client ends with
 * every step exactly once. And a revoked key's open sockets are disconnected at once.
 */

let db: TestDatabase;
let port: number;
let apiProc: ChildProcess | undefined;
let worker: WorkerProcess | undefined;
const prefix = `popo-test-resume-${randomBytes(4).toString('hex')}`;
const baseUrl = () => `http://127.0.0.1:${port}`;

async function startApiProcess(): Promise<void> {
  const child = spawn(process.execPath, [DIST_MAIN, 'api'], {
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      POPO_REDIS_PREFIX: prefix,
      POPO_ADMIN_KEY: TEST_ADMIN_KEY,
      PORT: String(port),
      HOST: '127.0.0.1',
      MIGRATIONS_RUN: 'false',
      LOG_LEVEL: 'log',
      NO_COLOR: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  apiProc = child;
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`API exited early:\n${out}`);
      return out.includes('listening on');
    },
    'the API to listen',
    60_000,
  );
}

async function killApi(): Promise<void> {
  const c = apiProc;
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  db = await createTestDatabase();
  port = await freePort();
  await startApiProcess();
}, 90_000);

afterAll(async () => {
  await worker?.stop('SIGKILL');
  await killApi();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

describe('socket clients across an API restart', () => {
  it('every step reaches each client exactly once: replay from Postgres on resubscribe with since_step', async () => {
    const { request, createProject } = httpHelpers(baseUrl());
    const project = await createProject('resume');
    worker = spawnWorker({
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      POPO_REDIS_PREFIX: prefix,
      POPO_WORKER_ID: 'resume-A',
      POPO_WORKER_DEVICES: 'cpu',
    });
    await worker.ready;
    const STEPS = 24;
    const created = await request('POST', '/v1/jobs', {
      token: project.token,
      json: {
        algorithm: 'popo',
        model: { builtin: 'tiny-1m' },
        data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
        steps: STEPS,
        checkpoint_every: 6,
        seed: 11,
        sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
        optimizer: { lr: 0.001 },
        eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
      },
    });
    expect(created.status).toBe(201);
    const jobId: string = created.body.id;

    // A raw socket.io client doing what docs/runtime.md tells clients to do: resubscribe on every connect with
    // the last step it has.
    const raw = io(baseUrl(), {
      auth: { token: project.token },
      transports: ['websocket'],
      forceNew: true,
      reconnectionDelay: 200,
      reconnectionDelayMax: 1000,
    }) as unknown as ClientSocket;
    const rawSeen = new Set<number>();
    let rawLast = 0;
    let resubscribedAt = 0;
    raw.on('connect', () => {
      raw.emit('subscribe', { job_id: jobId, since_step: rawLast }, (ack) => {
        if (ack.ok && rawLast > 0) resubscribedAt ||= Date.now();
      });
    });
    raw.on('job.metrics', (m) => {
      if (m.job_id !== jobId) return;
      // One per step (the documented rule): a step recorded while the replay runs can come twice.
      rawSeen.add(m.step);
      rawLast = Math.max(rawLast, m.step);
    });

    // The SDK's stream: the user's callback must see each step once, in order.
    const sdk = createPopoClient({ baseUrl: baseUrl(), token: project.token });
    const sdkSteps: number[] = [];
    const stream = sdk.streamMetrics(jobId, { onMetrics: (p) => sdkSteps.push(p.step), timeoutMs: 150_000 });

    const progress = async () =>
      (
        await db.query<{ step: number | null }>('SELECT max(step) AS step FROM metrics WHERE job_id = $1', [
          jobId,
        ])
      )[0].step ?? 0;
    await waitFor(() => rawLast >= 3 && sdkSteps.length >= 3, 'both clients to see step 3', 90_000);
    await killApi();
    const killedAt = await progress();
    // The job goes on without any API: steps recorded now reach nobody live.
    await waitFor(async () => (await progress()) >= killedAt + 3, 'three steps without an API', 60_000);
    const restartAt = Date.now();
    await startApiProcess();

    const job = await stream.done;
    expect(job.status).toBe('succeeded');
    await waitFor(() => rawLast === STEPS, 'the raw client to reach the last step', 30_000);
    const all = Array.from({ length: STEPS }, (_, i) => i + 1);
    expect(sdkSteps).toEqual(all);
    expect([...rawSeen].sort((a, b) => a - b)).toEqual(all);
    expect(resubscribedAt).toBeGreaterThan(0);
    console.log(
      `[faults] API SIGKILLed at step ${killedAt}: clients resubscribed ${resubscribedAt - restartAt} ms after the` +
        ` restart began; every one of ${STEPS} steps reached each client once`,
    );
    raw.close();
  });

  it('a revoked key: its open sockets are disconnected at once, and it cannot reconnect', async () => {
    const { request, createProject } = httpHelpers(baseUrl());
    const project = await createProject('revoke');
    const key = await request('POST', `/v1/projects/${project.projectId}/keys`, {
      token: TEST_ADMIN_KEY,
      json: { name: 'to revoke' },
    });
    expect(key.status).toBe(201);
    const socket = await connectSocket(baseUrl(), key.body.token);
    const other = await connectSocket(baseUrl(), project.token);
    expect((await socket.emitWithAck('subscribe', {})).ok).toBe(true);
    const reason = new Promise<string>((r) => socket.once('disconnect', r));

    const revoked = await request('DELETE', `/v1/projects/${project.projectId}/keys/${key.body.id}`, {
      token: TEST_ADMIN_KEY,
    });
    expect(revoked.status).toBe(200);
    expect(await reason).toBe('io server disconnect');
    // Only that key's sockets: another key of the same project stays connected.
    expect(other.connected).toBe(true);
    await expect(connectSocket(baseUrl(), key.body.token)).rejects.toThrow(/revoked/);
    other.close();
  });
});
