import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPopoClient,
  type CreateJobRequest,
  type JobStatus,
  type MetricPoint,
  PopoApiError,
  type PopoClient,
  PopoConnectionError,
  PopoTimeoutError,
} from '../../client/sdk/index.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { waitFor } from '../runtime/helpers/runtime.js';

/** `streamMetrics` over the real socket.io gateway, with a real worker producing the steps. */

let svc: TestService;
let popo: PopoClient;

const job = (steps: number): CreateJobRequest => ({
  algorithm: 'popo',
  seed: 3,
  model: { builtin: 'tiny-1m' },
  data: { task: { name: 'add', difficulty: 1, n_train: 20, n_test: 2 } },
  steps,
  checkpoint_every: 0,
  sampling: { group_size: 4, prompts_per_step: 2, max_new_tokens: 4 },
  optimizer: { lr: 0.001 },
  eval: { n: 1, k: 1, temperature: 0, max_examples: 2 },
});

const strip = (p: MetricPoint) => ({ step: p.step, values: p.values });

beforeAll(async () => {
  svc = await startTestService('stream');
  popo = createPopoClient({ baseUrl: svc.api.baseUrl, token: svc.token });
});

afterAll(async () => {
  await svc?.stop();
});

describe('streamMetrics', () => {
  it('delivers every step once, in order, then ends with the finished job', async () => {
    const created = await popo.createJob(job(4));
    const statuses: JobStatus[] = [];
    const stream = popo.streamMetrics(created.id, {
      timeoutMs: 120_000,
      onStatus: (j) => void statuses.push(j.status),
    });
    const seen: MetricPoint[] = [];
    for await (const p of stream) seen.push(p);
    const done = await stream.done;
    expect(done).toMatchObject({ id: created.id, status: 'succeeded', progress_step: 4 });
    expect(statuses.at(-1)).toBe('succeeded');
    expect(new Set(statuses).size).toBe(statuses.length); // each status once
    const stored = await popo.jobs.metrics(created.id);
    expect(seen.map(strip)).toEqual(stored.items.map(strip));
    expect(seen.map((p) => p.step)).toEqual([1, 2, 3, 4]);

    // Opened after the end: the recorded steps, then done at once.
    const late: number[] = [];
    const again = popo.streamMetrics(created.id, { onMetrics: (p) => void late.push(p.step) });
    expect((await again.done).status).toBe('succeeded');
    expect(late).toEqual([1, 2, 3, 4]);
  });

  it('a refused subscription rejects: an unknown job (404), a bad key (401), no service', async () => {
    const unknown = popo.streamMetrics('00000000-0000-4000-8000-000000000000');
    await expect(unknown.done).rejects.toMatchObject({ status: 404, code: 'not_found' });
    const stranger = createPopoClient({ baseUrl: svc.api.baseUrl, token: 'popo_not-a-key' });
    const denied = stranger.streamMetrics('00000000-0000-4000-8000-000000000000');
    const err = await denied.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PopoApiError);
    expect(err).toMatchObject({ status: 401 });
    // Nothing listening: a connection error after `retries` attempts, not a wait forever.
    const nowhere = createPopoClient({ baseUrl: 'http://127.0.0.1:9', token: svc.token });
    const lost = nowhere.streamMetrics('00000000-0000-4000-8000-000000000000', { retries: 1 });
    await expect(lost.done).rejects.toBeInstanceOf(PopoConnectionError);
  });

  it('timeoutMs rejects with PopoTimeoutError; leaving the loop closes the stream; the job goes on', async () => {
    const long = await popo.createJob(job(100_000));
    const timed = popo.streamMetrics(long.id, { timeoutMs: 1_000 });
    await expect(timed.done).rejects.toBeInstanceOf(PopoTimeoutError);

    const stream = popo.streamMetrics(long.id);
    for await (const p of stream) {
      expect(p.step).toBe(1);
      break;
    }
    await expect(stream.done).rejects.toMatchObject({ name: 'AbortError' });
    expect((await popo.jobs.get(long.id)).status).toBe('running');
    await popo.jobs.cancel(long.id);
    await waitFor(async () => (await popo.jobs.get(long.id)).status === 'cancelled', 'the cancel', 60_000);
  });
});
