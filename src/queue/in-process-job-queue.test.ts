import { describe, expect, it, vi } from 'vitest';
import type { JobContext, JobOutcome } from './job-consumer.js';
import { InProcessJobQueue } from './in-process-job-queue.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

/** A handler whose jobs finish only when the test releases them. */
function gatedHandler() {
  const started: JobContext[] = [];
  const release = new Map<string, (o: JobOutcome) => void>();
  const handler = (ctx: JobContext) =>
    new Promise<JobOutcome>((resolve) => {
      started.push(ctx);
      release.set(ctx.jobId, resolve);
      ctx.signal.addEventListener('abort', () => resolve({ kind: 'done' }));
    });
  return { started, release, handler };
}

describe('InProcessJobQueue', () => {
  it('runs lower priority first, FIFO within a priority, one job per device', async () => {
    const q = new InProcessJobQueue();
    const g = gatedHandler();
    await q.enqueue('c', { priority: 5 });
    await q.enqueue('a', { priority: 1 });
    await q.enqueue('d', { priority: 5 });
    await q.enqueue('b', { priority: 1 });
    await q.start(g.handler, ['cpu']);
    await tick();
    expect(g.started.map((c) => c.jobId)).toEqual(['a']);
    for (const id of ['a', 'b', 'c']) {
      g.release.get(id)!({ kind: 'done' });
      await tick();
    }
    expect(g.started.map((c) => c.jobId)).toEqual(['a', 'b', 'c', 'd']);
    expect(g.started.every((c) => c.device === 'cpu')).toBe(true);
    await q.close();
  });

  it('runs as many jobs at once as there are devices', async () => {
    const q = new InProcessJobQueue();
    const g = gatedHandler();
    await q.start(g.handler, ['cuda:0', 'cuda:1']);
    for (const id of ['x', 'y', 'z']) await q.enqueue(id, { priority: 0 });
    await tick();
    expect(g.started.map((c) => [c.jobId, c.device])).toEqual([
      ['x', 'cuda:0'],
      ['y', 'cuda:1'],
    ]);
    expect(q.snapshot()).toEqual({ waiting: ['z'], running: ['x', 'y'] });
    g.release.get('y')!({ kind: 'done' });
    await tick();
    expect(g.started[2]).toMatchObject({ jobId: 'z', device: 'cuda:1' });
    await q.close();
  });

  it('ignores a second enqueue of a job that is waiting or running, and remove() drops a waiting one', async () => {
    const q = new InProcessJobQueue();
    const g = gatedHandler();
    await q.start(g.handler, ['cpu']);
    await q.enqueue('a', { priority: 0 });
    await q.enqueue('a', { priority: 0 });
    await q.enqueue('b', { priority: 0 });
    await q.enqueue('b', { priority: 0 });
    await q.enqueue('c', { priority: 0 });
    await q.remove('c');
    await tick();
    expect(q.snapshot()).toEqual({ waiting: ['b'], running: ['a'] });
    await q.close();
  });

  // Fake timers: delays and retries run on a virtual clock, so a loaded machine cannot change what the test sees.
  it('requeues after the delay a handler asks for', async () => {
    vi.useFakeTimers();
    try {
      const q = new InProcessJobQueue();
      const seen: number[] = [];
      await q.start(async () => {
        seen.push(Date.now());
        return seen.length === 1
          ? { kind: 'requeue', delayMs: 80, reason: 'project limit' }
          : { kind: 'done' };
      }, ['cpu']);
      await q.enqueue('a', { priority: 0 });
      await vi.advanceTimersByTimeAsync(79);
      expect(seen).toHaveLength(1);
      expect(q.snapshot()).toEqual({ waiting: ['a'], running: [] });
      await vi.advanceTimersByTimeAsync(1);
      expect(seen).toHaveLength(2);
      expect(seen[1] - seen[0]).toBe(80);
      await q.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('retries a handler that throws, up to maxAttempts, reporting each error', async () => {
    vi.useFakeTimers();
    try {
      const errors: unknown[] = [];
      const q = new InProcessJobQueue({ retryDelayMs: 5, maxAttempts: 3, onError: (e) => errors.push(e) });
      const calls: number[] = [];
      await q.start(async () => {
        calls.push(Date.now());
        throw new Error('database down');
      }, ['cpu']);
      const t0 = Date.now();
      await q.enqueue('a', { priority: 0 });
      // Backoff 5 ms then 10 ms; a fourth attempt never comes, however long we wait.
      await vi.advanceTimersByTimeAsync(10_000);
      expect(calls.map((t) => t - t0)).toEqual([0, 5, 15]);
      expect(errors).toHaveLength(3);
      expect(q.snapshot()).toEqual({ waiting: [], running: [] });
      expect(vi.getTimerCount()).toBe(0);
      await q.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('close() aborts running handlers and waits for them', async () => {
    const q = new InProcessJobQueue();
    let finished = false;
    await q.start(
      (ctx) =>
        new Promise<JobOutcome>((resolve) =>
          ctx.signal.addEventListener('abort', () =>
            setTimeout(() => {
              finished = true;
              resolve({ kind: 'done' });
            }, 20),
          ),
        ),
      ['cpu'],
    );
    await q.enqueue('a', { priority: 0 });
    await tick();
    await q.close();
    expect(finished).toBe(true);
  });

  it('rejects bad input naming the field', async () => {
    const q = new InProcessJobQueue();
    await expect(q.enqueue('', { priority: 0 })).rejects.toThrow(/jobId/);
    await expect(q.enqueue('a', { priority: Number.NaN })).rejects.toThrow(/priority/);
    await expect(q.start(async () => ({ kind: 'done' }), [])).rejects.toThrow(/devices/);
  });
});
