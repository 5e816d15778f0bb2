import { describe, expect, it } from 'vitest';
import {
  type Job,
  type JobEvent,
  type MetricPoint,
  PopoApiError,
  PopoConnectionError,
  PopoTimeoutError,
} from '../../client/sdk/index.js';
import { waitForJob } from '../../client/sdk/wait.js';

/**
 * The polling logic against a scripted job history (the HTTP side is covered end to end in sdk-e2e.test.ts):
 * each `get` returns the next state; metrics exist for steps 1..progress_step of the current state.
 */
function scripted(states: (Partial<Job> | Error)[]) {
  let i = 0;
  let current: Partial<Job> = {};
  const metricCalls: number[] = [];
  return {
    metricCalls,
    api: {
      async get() {
        const next = states[Math.min(i++, states.length - 1)];
        if (next instanceof Error) throw next;
        current = next;
        return { id: 'j', total_steps: 5, ...next } as Job;
      },
      async metrics(_id: string, q: { fromStep?: number; limit?: number }) {
        metricCalls.push(q.fromStep!);
        const items: MetricPoint[] = [];
        for (let s = q.fromStep!; s <= (current.progress_step ?? 0); s++)
          items.push({ step: s, values: { loss: s } });
        return { items, total_steps: items.length, last_step: current.progress_step ?? null };
      },
    },
  };
}

describe('jobs.waitFor polling', () => {
  it('reports each status change and each step once, asking metrics only when the step moved', async () => {
    const { api, metricCalls } = scripted([
      { status: 'queued', progress_step: 0 },
      { status: 'running', progress_step: 2 },
      { status: 'running', progress_step: 2 },
      { status: 'running', progress_step: 4 },
      { status: 'succeeded', progress_step: 5 },
    ]);
    const statuses: string[] = [];
    const steps: number[] = [];
    const job = await waitForJob(api, 'j', {
      intervalMs: 1,
      onStatus: (j) => void statuses.push(j.status),
      onMetrics: (points) => void steps.push(...points.map((p) => p.step)),
    });
    expect(job.status).toBe('succeeded');
    expect(statuses).toEqual(['queued', 'running', 'succeeded']);
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    expect(metricCalls).toEqual([1, 3, 5]);
  });

  it('a resume from an earlier checkpoint re-reads the steps after it', async () => {
    const { api } = scripted([
      { status: 'running', progress_step: 3 },
      { status: 'queued', progress_step: 2 },
      { status: 'succeeded', progress_step: 4 },
    ]);
    const steps: number[] = [];
    await waitForJob(api, 'j', { intervalMs: 1, onMetrics: (p) => void steps.push(...p.map((x) => x.step)) });
    expect(steps).toEqual([1, 2, 3, 3, 4]);
  });

  it('stops at the requested states, not only terminal ones', async () => {
    const { api } = scripted([{ status: 'queued' }, { status: 'running' }, { status: 'succeeded' }]);
    expect((await waitForJob(api, 'j', { intervalMs: 1, until: ['running'] })).status).toBe('running');
  });

  it('rides out transient failures, but not more than `retries` in a row, nor a 404', async () => {
    const down = new PopoConnectionError('http://x', { cause: new Error('ECONNREFUSED') });
    const busy = new PopoApiError(503, 'queue_unavailable', 'busy');
    const ok = scripted([down, busy, { status: 'succeeded', progress_step: 0 }]);
    expect((await waitForJob(ok.api, 'j', { intervalMs: 1, retries: 2 })).status).toBe('succeeded');

    const tooMany = scripted([down, down, down, { status: 'succeeded' }]);
    await expect(waitForJob(tooMany.api, 'j', { intervalMs: 1, retries: 2 })).rejects.toBe(down);

    const gone = new PopoApiError(404, 'not_found', 'job j not found');
    await expect(waitForJob(scripted([gone]).api, 'j', { intervalMs: 1 })).rejects.toBe(gone);
  });

  it('hands over each event once, reading them only when the status or the step moved, and at the end', async () => {
    const { api } = scripted([
      { status: 'running', progress_step: 1 },
      { status: 'running', progress_step: 1 },
      { status: 'running', progress_step: 2 },
      { status: 'succeeded', progress_step: 2 },
    ]);
    // Event n is recorded at step n; the reader asks for ids after `after`.
    const afters: number[] = [];
    const events = async (_id: string, q: { after?: number }) => {
      afters.push(q.after ?? 0);
      return [1, 2]
        .filter((n) => n > (q.after ?? 0))
        .map((n) => ({ id: n, code: `w${n}`, level: 'warning', step: n }) as JobEvent);
    };
    const seen: string[] = [];
    await waitForJob({ ...api, events }, 'j', {
      intervalMs: 1,
      onEvents: (e) => void seen.push(...e.map((x) => x.code)),
    });
    expect(seen).toEqual(['w1', 'w2']);
    expect(afters).toEqual([0, 2, 2]); // not at the 2nd poll (nothing moved); always at the terminal one
  });

  it('times out naming the job and its last status', async () => {
    const { api } = scripted([{ status: 'running', progress_step: 1 }]);
    const err = await waitForJob(api, 'j', { intervalMs: 5, timeoutMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PopoTimeoutError);
    expect(err).toMatchObject({ jobId: 'j', lastStatus: 'running', timeoutMs: 20 });
  });
});
