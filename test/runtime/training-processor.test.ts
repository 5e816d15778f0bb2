import 'reflect-metadata';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DataSource } from 'typeorm';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { loadConfig } from '../../src/config/index.js';
import { dataSourceOptions } from '../../src/database/options.js';
import type { StepMetrics, TrainConfig, TrainHooks, TrainResult } from '../../src/learner/trainer/types.js';
import { zeroMetrics } from '../../src/learner/trainer/metrics.js';
import { CheckpointStore } from '../../src/modules/checkpoints/checkpoint-store.js';
import type { PayloadOf, RealtimeEvent } from '../../src/modules/realtime/events.js';
import type { RealtimePublisher } from '../../src/modules/realtime/realtime-publisher.js';
import { WebhooksService } from '../../src/modules/webhooks/webhooks.service.js';
import { WorkerHeartbeat } from '../../src/modules/worker/heartbeat.js';
import { JobStore } from '../../src/modules/worker/job-store.js';
import { MetricsService } from '../../src/modules/metrics/metrics.service.js';
import { ObjectiveInputError } from '../../src/learner/objectives/errors.js';
import { TaskError } from '../../src/learner/tasks/types.js';
import { TokenizerError } from '../../src/learner/tokenizer/tokenizer.js';
import { ConfigError } from '../../src/learner/trainer/config.js';
import { CheckpointError } from '../../src/learner/trainer/checkpoint.js';
import { DomainEvents } from '../../src/modules/jobs/domain-events.js';
import { JobEventsService } from '../../src/modules/jobs/job-events.service.js';
import { JobStatusRelay } from '../../src/modules/realtime/job-status-relay.js';
import {
  CheckpointRepository,
  JobEventRepository,
  JobRepository,
  MetricRepository,
} from '../../src/repositories/index.js';
import { loadRuntimeConfig } from '../../src/modules/worker/runtime-config.js';
import { InProcessLearner, type TrainFn } from '../../src/modules/worker/job-learner.js';
import { TrainingProcessor } from '../../src/modules/worker/training-processor.js';
import { InMemoryWorkerRegistry } from '../../src/modules/worker/worker-registry.js';

/**
 * The processor's decisions (claim, limits, fencing, stop and shutdown paths) against the real schema. The
 * trainer is a stand-in with train()'s signature here only; test/runtime runs the real one end to end.
 */

let tdb: TestDatabase;
let ds: DataSource;
let projectId: string;
const published: { event: RealtimeEvent; payload: unknown }[] = [];
const publisher: RealtimePublisher = {
  emit<E extends RealtimeEvent>(event: E, payload: PayloadOf<E>) {
    published.push({ event, payload });
  },
};

function metrics(step: number): StepMetrics {
  return zeroMetrics(step, 'fake', { loss: 1 / step });
}

/** A stand-in trainer: `steps` steps, polling shouldStop before each, like the real loop. */
function fakeTrain(
  onStepDone?: (step: number) => Promise<void> | void,
): TrainFn & { configs: TrainConfig[] } {
  const configs: TrainConfig[] = [];
  const fn = async (config: TrainConfig, hooks: TrainHooks): Promise<TrainResult> => {
    configs.push(config);
    let step = 0;
    while (step < config.steps) {
      const stop = await hooks.shouldStop?.();
      if (stop)
        return { status: stop === 'cancel' ? 'cancelled' : 'paused', steps_done: step, backend: 'fake' };
      step++;
      await hooks.onStep?.(metrics(step));
      await onStepDone?.(step);
    }
    return { status: 'completed', steps_done: step, backend: 'fake' };
  };
  return Object.assign(fn, { configs });
}

function processorWith(train: TrainFn, env: Record<string, string> = {}) {
  // The webhook below points at a closed loopback port: allowlisted, so it stays a retryable failure.
  const config = loadConfig({
    DATABASE_URL: tdb.url,
    LOG_LEVEL: 'error',
    POPO_OUTBOUND_ALLOW: '127.0.0.1/32',
  });
  const runtime = loadRuntimeConfig({ POPO_WORKER_ID: 'unit-worker', POPO_PROJECT_MAX_RUNNING: '2', ...env });
  const heartbeat = new WorkerHeartbeat(new InMemoryWorkerRegistry(), {
    id: 'unit-worker',
    devices: ['cpu'],
    backend: 'cpu',
    ttlS: 5,
  });
  const jobs = new JobRepository(ds);
  const events = new JobEventRepository(ds);
  // job.changed with its two real handlers: the socket relay (into the recording publisher) and webhooks.
  const domain = new DomainEvents();
  new JobStatusRelay(domain, publisher).onModuleInit();
  new WebhooksService(ds, runtime, config, domain).onModuleInit();
  return new TrainingProcessor(
    ds,
    runtime,
    new JobStore(jobs, events),
    new MetricsService(jobs, new MetricRepository(ds)),
    new CheckpointStore(new CheckpointRepository(ds), config),
    new JobEventsService(events, publisher),
    domain,
    heartbeat,
    publisher,
    new InProcessLearner(train),
  );
}

async function insertJob(cols: Record<string, unknown> = {}): Promise<string> {
  const row = {
    project_id: projectId,
    kind: 'grpo',
    status: 'queued',
    config: JSON.stringify({ steps: 3 }),
    model_builtin: 'tiny-1m',
    task: JSON.stringify({ name: 'add', difficulty: 1, n_train: 10, n_test: 2 }),
    ...cols,
  };
  const keys = Object.keys(row);
  const [{ id }] = await tdb.query<{ id: string }>(
    `INSERT INTO jobs (${keys.map((k) => `"${k}"`).join(', ')}) VALUES (${keys.map((_, i) => `$${i + 1}`).join(', ')}) RETURNING id`,
    Object.values(row),
  );
  return id;
}

const job = async (id: string) =>
  (await tdb.query<Record<string, any>>('SELECT * FROM jobs WHERE id = $1', [id]))[0]; // eslint-disable-line @typescript-eslint/no-explicit-any
const ctx = (jobId: string, signal = new AbortController().signal) => ({ jobId, device: 'cpu', signal });

beforeAll(async () => {
  tdb = await createTestDatabase();
  ds = new DataSource(dataSourceOptions({ url: tdb.url, poolSize: 4 }));
  await ds.initialize();
});

afterAll(async () => {
  await ds?.destroy();
  await tdb?.drop();
});

beforeEach(async () => {
  published.length = 0;
  [{ id: projectId }] = await tdb.query<{ id: string }>(
    `INSERT INTO projects (name, webhook_secret) VALUES ('p', 'secret') RETURNING id`,
  );
});

describe('TrainingProcessor', () => {
  it('runs a queued job: claims it, records each step once, finishes succeeded and publishes', async () => {
    const train = fakeTrain();
    const id = await insertJob({
      config: JSON.stringify({ steps: 3, optimizer: { lr: 0.01 }, reward: 'math' }),
    });
    expect(await processorWith(train).handle(ctx(id))).toEqual({ kind: 'done' });
    expect(await job(id)).toMatchObject({
      status: 'succeeded',
      attempts: 1,
      worker_id: 'unit-worker',
      device: 'cpu',
      progress_step: 3,
      backend: 'fake',
      stop_requested: null,
    });
    expect(train.configs[0]).toMatchObject({
      algorithm: 'grpo',
      steps: 3,
      model: { builtin: 'tiny-1m' },
      optimizer: { lr: 0.01 },
      data: { reward: 'math', task: { name: 'add' } },
    });
    expect(
      (await tdb.query('SELECT step FROM metrics WHERE job_id = $1 ORDER BY step', [id])).map((r) => r.step),
    ).toEqual([1, 2, 3]);
    expect(
      published.filter((p) => p.event === 'job.metrics').map((p) => (p.payload as { step: number }).step),
    ).toEqual([1, 2, 3]);
    expect(
      published.filter((p) => p.event === 'job.status').map((p) => (p.payload as { status: string }).status),
    ).toEqual(['running', 'succeeded']);
  });

  it('requeues a job over its project’s running-job limit without touching it', async () => {
    await tdb.query('UPDATE projects SET max_running_jobs = 1 WHERE id = $1', [projectId]);
    await insertJob({ status: 'running', worker_id: 'someone' });
    const id = await insertJob();
    const outcome = await processorWith(fakeTrain(), { POPO_PROJECT_LIMIT_RETRY_MS: '1234' }).handle(ctx(id));
    expect(outcome).toEqual({
      kind: 'requeue',
      delayMs: 1234,
      reason: 'project has 1 running jobs (limit 1)',
    });
    expect(await job(id)).toMatchObject({ status: 'queued', attempts: 0, worker_id: null });
  });

  it('uses the worker default limit when the project sets none', async () => {
    await insertJob({ status: 'running' });
    await insertJob({ status: 'cancelling' });
    const id = await insertJob();
    expect((await processorWith(fakeTrain()).handle(ctx(id))).kind).toBe('requeue');
    const other = await processorWith(fakeTrain(), { POPO_PROJECT_MAX_RUNNING: '3' }).handle(ctx(id));
    expect(other).toEqual({ kind: 'done' });
  });

  it('fails a job whose hyperparameters the trainer rejects, naming the field', async () => {
    const id = await insertJob({
      task: JSON.stringify({ name: 'add', difficulty: 50, n_train: 10, n_test: 2 }),
    });
    await processorWith(fakeTrain()).handle(ctx(id));
    const row = await job(id);
    expect(row.status).toBe('failed');
    expect(row.error).toMatch(/data\.task\.difficulty/);
    expect(row.finished_at).not.toBeNull();
  });

  it('ends a job on a user error as a user error, and on anything else as an internal failure', async () => {
    const failWith =
      (err: Error): TrainFn =>
      async () => {
        throw err;
      };
    const finalEvent = async (id: string) =>
      (
        await tdb.query<{ level: string; data: { failure?: string } }>(
          `SELECT level, data FROM job_events WHERE job_id = $1 AND code = 'status' ORDER BY id DESC LIMIT 1`,
          [id],
        )
      )[0];
    // The learner's input errors, recognised by type (FieldError) whatever their class: the three once missing
    // from a list of names (task, tokenizer, objective) and the two that were matched by name (config, checkpoint).
    const userErrors: Error[] = [
      new TaskError('data.task.name', 'unknown task "nope"'),
      new TokenizerError('model.tokenizer', 'no tokenizer.json'),
      new ObjectiveInputError('popo.tau', 'must be < 1'),
      new ConfigError([{ field: 'steps', reason: 'must be >= 1' }]),
      new CheckpointError('tensor "w" has shape [2], expected [3]'),
    ];
    for (const err of userErrors) {
      const id = await insertJob();
      await processorWith(failWith(err)).handle(ctx(id));
      const row = await job(id);
      expect(row.status).toBe('failed');
      // The user's message as is: no class name, no stack.
      expect(row.error).toBe(err.message);
      expect(await finalEvent(id)).toMatchObject({ level: 'error', data: { failure: 'user_input' } });
    }
    const id = await insertJob();
    await processorWith(failWith(new RangeError('tensor index out of range'))).handle(ctx(id));
    expect((await job(id)).error).toBe('RangeError: tensor index out of range');
    expect(await finalEvent(id)).toMatchObject({ data: { failure: 'internal' } });
  });

  it('stops writing once another worker has taken the job over (fencing)', async () => {
    let id = '';
    const train = fakeTrain(async (step) => {
      if (step === 1)
        await tdb.query(`UPDATE jobs SET attempts = attempts + 1, worker_id = 'other' WHERE id = $1`, [id]);
    });
    id = await insertJob({ config: JSON.stringify({ steps: 5 }) });
    expect(await processorWith(train).handle(ctx(id))).toEqual({ kind: 'done' });
    expect(await job(id)).toMatchObject({ status: 'running', worker_id: 'other', attempts: 2 });
    expect((await tdb.query('SELECT step FROM metrics WHERE job_id = $1', [id])).map((r) => r.step)).toEqual([
      1,
    ]);
  });

  it('hands the job back at shutdown: checkpoint, status queued again, requeue now', async () => {
    const abort = new AbortController();
    const train = fakeTrain((step) => {
      if (step === 2) abort.abort();
    });
    const id = await insertJob({ config: JSON.stringify({ steps: 10 }) });
    expect(await processorWith(train).handle(ctx(id, abort.signal))).toEqual({
      kind: 'requeue',
      delayMs: 0,
      reason: 'worker shutting down',
    });
    expect(await job(id)).toMatchObject({ status: 'queued', progress_step: 2, finished_at: null });
  });

  it('a user’s pause wins over a shutdown that happens at the same time', async () => {
    const abort = new AbortController();
    let id = '';
    const train = fakeTrain(async (step) => {
      if (step === 1) {
        await tdb.query(`UPDATE jobs SET stop_requested = 'pause' WHERE id = $1`, [id]);
        abort.abort();
      }
    });
    id = await insertJob({ config: JSON.stringify({ steps: 10 }) });
    expect(await processorWith(train).handle(ctx(id, abort.signal))).toEqual({ kind: 'done' });
    expect(await job(id)).toMatchObject({ status: 'paused', stop_requested: null, progress_step: 1 });
  });

  it('applies a stop that was requested while its worker was gone, and skips jobs that cannot run', async () => {
    const cancelling = await insertJob({
      status: 'cancelling',
      stop_requested: 'cancel',
      webhook_url: 'http://127.0.0.1:9/hook',
    });
    const queuedPause = await insertJob({ stop_requested: 'pause' });
    const done = await insertJob({ status: 'succeeded' });
    const train = fakeTrain();
    const p = processorWith(train);
    for (const id of [cancelling, queuedPause, done])
      expect(await p.handle(ctx(id))).toEqual({ kind: 'done' });
    expect(train.configs).toHaveLength(0);
    expect((await job(cancelling)).status).toBe('cancelled');
    // Terminal without a run: still announced (socket and webhook log).
    expect(
      await tdb.query('SELECT event, status FROM webhook_deliveries WHERE job_id = $1', [cancelling]),
    ).toEqual([{ event: 'job.cancelled', status: 'pending' }]);
    expect(
      published.some(
        (p) => p.event === 'job.status' && (p.payload as { status: string; id: string }).id === cancelling,
      ),
    ).toBe(true);
    expect(
      published.some(
        (p) => p.event === 'job.event' && (p.payload as { job_id: string }).job_id === cancelling,
      ),
    ).toBe(true);
    expect((await job(queuedPause)).status).toBe('paused');
    expect((await job(done)).attempts).toBe(0);
    expect(await p.handle(ctx('00000000-0000-4000-8000-000000000000'))).toEqual({ kind: 'done' });
  });

  it('takes over a running job whose worker died and says so in its events', async () => {
    const id = await insertJob({ status: 'running', worker_id: 'dead-worker', attempts: 1 });
    await processorWith(fakeTrain()).handle(ctx(id));
    expect(await job(id)).toMatchObject({ status: 'succeeded', attempts: 2, worker_id: 'unit-worker' });
    const events = await tdb.query<{ level: string; message: string }>(
      'SELECT level, message FROM job_events WHERE job_id = $1 ORDER BY id',
      [id],
    );
    expect(events[0]).toMatchObject({
      level: 'warning',
      message: expect.stringContaining('dead-worker stopped responding; resumed by unit-worker'),
    });
  });
});
