import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { BullmqJobConsumer } from '../../src/queue/bullmq-job-consumer.js';
import { BullmqJobQueue } from '../../src/queue/bullmq-job-queue.js';
import type { JobContext, JobOutcome } from '../../src/queue/job-consumer.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefixes: string[] = [];
const newPrefix = () => {
  const p = `popo-test-${randomUUID().slice(0, 8)}`;
  prefixes.push(p);
  return p;
};

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  await redis.quit();
});

const until = async (cond: () => boolean, ms = 15_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('BullMQ driver (real Redis)', () => {
  it('runs queued jobs lower-priority-first and dedups a job id that is already waiting', async () => {
    const settings = { url: REDIS_URL, prefix: newPrefix() };
    const queue = new BullmqJobQueue(settings);
    await queue.enqueue('j-low', { priority: 9 });
    await queue.enqueue('j-high', { priority: 0 });
    await queue.enqueue('j-mid', { priority: 3 });
    await queue.enqueue('j-mid', { priority: 3 });
    expect(await queue.queue.count()).toBe(3);

    const order: string[] = [];
    const consumer = new BullmqJobConsumer(settings, { workerId: 'w1' });
    await consumer.start(
      async (ctx) => {
        order.push(ctx.jobId);
        return { kind: 'done' };
      },
      ['cpu'],
    );
    await until(() => order.length === 3);
    expect(order).toEqual(['j-high', 'j-mid', 'j-low']);
    await consumer.close();
    // Finished entries are removed, so the same job id can be enqueued again (pause → resume, retry).
    await queue.enqueue('j-high', { priority: 0 });
    expect(await queue.queue.count()).toBe(1);
    await queue.remove('j-high');
    expect(await queue.queue.count()).toBe(0);
    await queue.close();
  });

  it('a requeue outcome delays the job and then runs it again', async () => {
    const settings = { url: REDIS_URL, prefix: newPrefix() };
    const queue = new BullmqJobQueue(settings);
    const runs: number[] = [];
    const consumer = new BullmqJobConsumer(settings, { workerId: 'w1' });
    await consumer.start(async (): Promise<JobOutcome> => {
      runs.push(Date.now());
      return runs.length === 1 ? { kind: 'requeue', delayMs: 300, reason: 'limit' } : { kind: 'done' };
    }, ['cpu']);
    await queue.enqueue('j1', { priority: 0 });
    await until(() => runs.length === 2);
    expect(runs[1] - runs[0]).toBeGreaterThanOrEqual(290);
    await consumer.close();
    await queue.close();
  });

  it('gives each device its own slot: two devices run two jobs at once', async () => {
    const settings = { url: REDIS_URL, prefix: newPrefix() };
    const queue = new BullmqJobQueue(settings);
    const active = new Map<string, string>();
    let peak = 0;
    const consumer = new BullmqJobConsumer(settings, { workerId: 'w1' });
    await consumer.start(
      async (ctx: JobContext): Promise<JobOutcome> => {
        active.set(ctx.jobId, ctx.device);
        peak = Math.max(peak, active.size);
        await until(() => active.size === 2 || ctx.signal.aborted, 5_000).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
        return { kind: 'done' };
      },
      ['cuda:0', 'cuda:1'],
    );
    await queue.enqueue('a', { priority: 0 });
    await queue.enqueue('b', { priority: 0 });
    await until(() => active.size === 2);
    expect(new Set(active.values())).toEqual(new Set(['cuda:0', 'cuda:1']));
    expect(peak).toBe(2);
    await consumer.close();
    await queue.close();
  });

  it('a SIGKILLed consumer’s job is detected as stalled and taken by another worker', async () => {
    const settings = { url: REDIS_URL, prefix: newPrefix() };
    const queue = new BullmqJobQueue(settings);
    const child = spawn(
      process.execPath,
      [
        '--import',
        './scripts/register-ts.mjs',
        'test/runtime/fixtures/hanging-consumer.ts',
        REDIS_URL,
        settings.prefix,
        '1000',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await until(() => out.includes('ready'), 20_000);
    await queue.enqueue('victim', { priority: 0 });
    await until(() => out.includes('started victim'));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const taken: string[] = [];
    const rescuer = new BullmqJobConsumer(settings, { workerId: 'rescuer', lockDurationMs: 1000 });
    await rescuer.start(
      async (ctx) => {
        taken.push(ctx.jobId);
        return { kind: 'done' };
      },
      ['cpu'],
    );
    await until(() => taken.length === 1, 20_000);
    expect(taken).toEqual(['victim']);
    await rescuer.close();
    await queue.close();
  });
});
