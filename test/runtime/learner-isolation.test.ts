import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  dropRedisPrefix,
  type RuntimeApi,
  spawnWorker,
  startRuntimeApi,
  TEST_REDIS_URL,
  waitFor,
  type WorkerProcess,
} from './helpers/runtime.js';

/**
 * Crash isolation: each device slot runs its job's learner in a child process. Faults are injected into the real
 * learner with POPO_FAULT_INJECT (test-only, read by the learner child alone), each limited to one seed so the
 * same worker also runs healthy jobs. Everything is polled for; nothing depends on how fast the machine is.
 */

let db: TestDatabase;
let api: RuntimeApi;
let worker: WorkerProcess;
let project: { projectId: string; token: string };
const prefix = `popo-test-iso-${randomBytes(4).toString('hex')}`;

const SEED = { abort: 101, healthy: 102, block: 103, trap: 104 };

interface Slot {
  index: number;
  device: string;
  backend: string | null;
  job: string | null;
  learner: { pid: number | null; state: string; since: string };
  last_crash: { at: string; job: string | null; error: string } | null;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function slot(): Promise<Slot | undefined> {
  const h = await api.request('GET', '/v1/health');
  const w = (h.body.workers as { id: string; slots: Slot[] }[]).find((x) => x.id === 'iso-worker');
  return w?.slots[0];
}

async function submit(seed: number, steps: number): Promise<string> {
  const res = await api.request('POST', '/v1/jobs', {
    token: project.token,
    json: {
      algorithm: 'popo',
      model: { builtin: 'tiny-1m' },
      data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
      steps,
      checkpoint_every: 1,
      seed,
      sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
      optimizer: { lr: 0.001 },
      eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
    },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const row = async (id: string) =>
  (
    await db.query<{ status: string; error: string | null; worker_id: string; progress_step: number }>(
      'SELECT status, error, worker_id, progress_step FROM jobs WHERE id = $1',
      [id],
    )
  )[0]!;

const finished = (id: string, what: string) =>
  waitFor(
    async () => {
      const r = await row(id);
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    },
    what,
    120_000,
  );

const steps = async (id: string) =>
  (await db.query<{ step: number }>('SELECT step FROM metrics WHERE job_id = $1 ORDER BY step', [id])).map(
    (m) => m.step,
  );

/** The slot idle again with a learner other than `pid`. */
const freshLearner = (pid: number) =>
  waitFor(
    async () => {
      const s = await slot();
      return s?.learner.state === 'idle' && s.learner.pid !== null && s.learner.pid !== pid ? s : undefined;
    },
    `a fresh learner instead of ${pid}`,
    120_000,
  );

const startWorker = () =>
  spawnWorker({
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    POPO_REDIS_PREFIX: prefix,
    POPO_WORKER_ID: 'iso-worker',
    POPO_WORKER_DEVICES: 'cpu',
    POPO_LEARNER_KILL_GRACE_MS: '1000',
    POPO_FAULT_INJECT: [
      `abort-at-step:2:seed=${SEED.abort}`,
      `block-at-step:1:seed=${SEED.block}`,
      `wasm-trap-at-step:2:seed=${SEED.trap}`,
    ].join(','),
  });

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startRuntimeApi({ db, prefix });
  project = await api.createProject('isolation');
  worker = startWorker();
  await worker.ready;
});

afterAll(async () => {
  const code = await worker?.stop('SIGTERM');
  if (code !== 0 && code !== null) console.log(worker.output());
  await api?.close();
  await db?.drop();
  await dropRedisPrefix(prefix);
});

describe('a learner in its own process', () => {
  it('health lists the slot with its learner process', async () => {
    const s = await waitFor(
      async () => ((await slot())?.learner.state === 'idle' ? slot() : undefined),
      'idle',
    );
    expect(s).toMatchObject({ index: 0, device: 'cpu', job: null, last_crash: null });
    expect(s!.backend).toMatch(/wasm|cpu|tensorflow/);
    expect(alive(s!.learner.pid!)).toBe(true);
    expect(s!.learner.pid).not.toBe(worker.child.pid);
  });

  it('an engine abort fails only its job, with the child’s own words; the next job on the worker succeeds', async () => {
    const before = (await slot())!.learner.pid!;
    const bad = await submit(SEED.abort, 4);
    const failed = await finished(bad, 'the aborting job to end');
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(
      /^LearnerCrashError: learner process \d+ was killed by SIGABRT; its last output: .*POPO_FAULT_INJECT: abort at step 2/,
    );
    expect(await steps(bad)).toEqual([1]);
    const [final] = await db.query<{ data: { failure: string } }>(
      `SELECT data FROM job_events WHERE job_id = $1 AND code = 'status' ORDER BY id DESC LIMIT 1`,
      [bad],
    );
    expect(final!.data.failure).toBe('internal');

    const s = await freshLearner(before);
    expect(alive(before)).toBe(false);
    expect(s.last_crash).toMatchObject({ job: bad, error: expect.stringMatching(/SIGABRT/) });

    const good = await submit(SEED.healthy, 2);
    const ok = await finished(good, 'the healthy job');
    expect(ok).toMatchObject({ status: 'succeeded', error: null, worker_id: 'iso-worker', progress_step: 2 });
    expect(await steps(good)).toEqual([1, 2]);

    // An eval job runs in the slot's learner too, from the healthy job's last checkpoint.
    const evalJob = await api.request('POST', '/v1/jobs', {
      token: project.token,
      json: { mode: 'eval', from_checkpoint: { job_id: good } },
    });
    expect(evalJob.status).toBe(201);
    expect((await finished(evalJob.body.id as string, 'the eval job')).status).toBe('succeeded');
    const [{ result }] = await db.query<{ result: { eval: { step: number; examples: number } } }>(
      'SELECT result FROM jobs WHERE id = $1',
      [evalJob.body.id],
    );
    expect(result.eval).toMatchObject({ step: 2, examples: 2 });
    // The worker process itself never went down.
    expect(worker.child.exitCode).toBeNull();
  });

  it('a wasm trap fails its job and the slot replaces the learner whose engine it hit', async () => {
    const before = (await slot())!.learner.pid!;
    const id = await submit(SEED.trap, 3);
    const r = await finished(id, 'the trapping job');
    expect(r).toMatchObject({ status: 'failed', error: 'RuntimeError: table index is out of bounds' });
    const s = await freshLearner(before);
    expect(s.last_crash).toMatchObject({ job: id, error: 'RuntimeError: table index is out of bounds' });
    await waitFor(() => !alive(before), `learner ${before} to be gone`, 30_000);
  });

  it('cancelling a job whose learner is stuck inside a step kills that learner', async () => {
    const id = await submit(SEED.block, 5);
    // The learner reports the block on stderr, which the worker logs: from here on it cannot see a cancel itself.
    await waitFor(
      () => worker.output().includes(`POPO_FAULT_INJECT: block at step 1`),
      'the learner to block',
      120_000,
    );
    // Health is the workers' last heartbeat (a shared report, at most a few seconds old): poll until it shows it.
    const stuck = await waitFor(
      async () => {
        const s = await slot();
        return s?.job === id && s.learner.state === 'running' && s;
      },
      'health to show the stuck job on the slot',
      60_000,
    );
    const pid = stuck.learner.pid!;
    expect(alive(pid)).toBe(true);

    const res = await api.request('POST', `/v1/jobs/${id}/cancel`, { token: project.token });
    expect(res.body.status).toBe('cancelling');
    const r = await finished(id, 'the cancel');
    expect(r.status).toBe('cancelled');
    await waitFor(() => !alive(pid), `learner ${pid} to be gone`, 30_000);
    const [event] = await db.query<{ message: string }>(
      `SELECT message FROM job_events WHERE job_id = $1 AND code = 'status' ORDER BY id DESC LIMIT 1`,
      [id],
    );
    expect(event!.message).toMatch(/learner was stopped inside the next step/);
    // A kill on cancel is not a crash: the slot's last crash is still the trap's.
    const s = await freshLearner(pid);
    expect(s.last_crash?.error).toBe('RuntimeError: table index is out of bounds');
  });

  it('a worker SIGTERMed mid-job still hands the job back from a checkpoint, and ends its learner', async () => {
    const id = await submit(SEED.healthy, 12);
    await waitFor(async () => (await row(id)).progress_step >= 2, 'two steps', 120_000);
    const pid = (await slot())!.learner.pid!;
    // Nest re-raises the signal after its shutdown hooks: a clean stop exits by SIGTERM (null) or with 0.
    expect([0, null]).toContain(await worker.stop('SIGTERM'));
    expect(alive(pid)).toBe(false);
    const handedBack = await row(id);
    expect(handedBack.status).toBe('queued');
    const [event] = await db.query<{ message: string }>(
      `SELECT message FROM job_events WHERE job_id = $1 AND code = 'status' ORDER BY id DESC LIMIT 1`,
      [id],
    );
    expect(event!.message).toMatch(/shut down at step \d+; requeued to resume from its checkpoint/);
    const [{ step: checkpoint }] = await db.query<{ step: number }>(
      'SELECT max(step) AS step FROM checkpoints WHERE job_id = $1',
      [id],
    );
    expect(checkpoint).toBe(handedBack.progress_step);

    // The next worker resumes it from that checkpoint: every step recorded exactly once.
    worker = startWorker();
    await worker.ready;
    expect(await finished(id, 'the resumed job')).toMatchObject({ status: 'succeeded', progress_step: 12 });
    expect(await steps(id)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });
});
