import type { JobContext, JobHandler, JobQueueConsumer } from './job-consumer.js';
import type { EnqueueOptions, JobQueue } from './job-queue.js';

interface Pending {
  jobId: string;
  priority: number;
  seq: number;
  notBefore: number;
}

export interface InProcessQueueOptions {
  onError?: (err: unknown, jobId: string) => void;
  /** Wait before retrying a job whose handler threw (mirrors the BullMQ driver's backoff). */
  retryDelayMs?: number;
  maxAttempts?: number;
}

/**
 * Embedded mode's queue: producer and consumer in one object, with BullMQ's semantics where they matter —
 * lower priority first then FIFO, dedup by job id while waiting or running, delayed requeue, one job per device.
 * Nothing survives the process; the embedded app re-enqueues unfinished jobs from Postgres at boot.
 */
export class InProcessJobQueue implements JobQueue, JobQueueConsumer {
  private readonly pending: Pending[] = [];
  private readonly active = new Map<
    string,
    { device: string; abort: AbortController; done: Promise<void> }
  >();
  private readonly attempts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private handler?: JobHandler;
  private freeDevices: string[] = [];
  private seq = 0;
  private closed = false;

  constructor(private readonly opts: InProcessQueueOptions = {}) {}

  async enqueue(jobId: string, opts: EnqueueOptions): Promise<void> {
    if (!jobId) throw new Error('jobId must be a non-empty string');
    if (!Number.isFinite(opts.priority))
      throw new Error(`priority must be a finite number, got ${opts.priority}`);
    this.push(jobId, opts.priority, 0);
  }

  async remove(jobId: string): Promise<void> {
    const i = this.pending.findIndex((p) => p.jobId === jobId);
    if (i >= 0) this.pending.splice(i, 1);
  }

  async missing(jobIds: string[]): Promise<string[]> {
    const held = new Set([...this.active.keys(), ...this.pending.map((p) => p.jobId)]);
    return jobIds.filter((id) => !held.has(id));
  }

  async start(handler: JobHandler, devices: string[]): Promise<void> {
    if (this.handler) throw new Error('consumer already started');
    if (!devices.length) throw new Error('devices must list at least one device');
    this.handler = handler;
    this.freeDevices = [...devices];
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const running = [...this.active.values()];
    for (const r of running) r.abort.abort(new Error('worker shutting down'));
    await Promise.all(running.map((r) => r.done));
  }

  /** Jobs waiting (ids, in the order they would run) and running: for tests and diagnostics. */
  snapshot(): { waiting: string[]; running: string[] } {
    return { waiting: [...this.pending].sort(order).map((p) => p.jobId), running: [...this.active.keys()] };
  }

  private push(jobId: string, priority: number, delayMs: number): void {
    if (this.closed || this.active.has(jobId) || this.pending.some((p) => p.jobId === jobId)) return;
    const notBefore = Date.now() + delayMs;
    this.pending.push({ jobId, priority, seq: this.seq++, notBefore });
    if (delayMs > 0) this.later(delayMs);
    this.pump();
  }

  private later(ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.pump();
    }, ms);
    this.timers.add(t);
  }

  private pump(): void {
    if (!this.handler || this.closed) return;
    const now = Date.now();
    while (this.freeDevices.length) {
      const ready = this.pending.filter((p) => p.notBefore <= now).sort(order);
      if (!ready.length) return;
      const next = ready[0];
      this.pending.splice(this.pending.indexOf(next), 1);
      this.run(next, this.freeDevices.shift()!);
    }
  }

  private run(entry: Pending, device: string): void {
    const abort = new AbortController();
    const ctx: JobContext = { jobId: entry.jobId, device, signal: abort.signal };
    const slot = { device, abort, done: Promise.resolve() };
    this.active.set(entry.jobId, slot);
    slot.done = (async () => {
      let requeue: number | undefined;
      try {
        const outcome = await this.handler!(ctx);
        if (outcome.kind === 'requeue') requeue = outcome.delayMs;
        this.attempts.delete(entry.jobId);
      } catch (err) {
        this.opts.onError?.(err, entry.jobId);
        const n = (this.attempts.get(entry.jobId) ?? 0) + 1;
        this.attempts.set(entry.jobId, n);
        if (n < (this.opts.maxAttempts ?? 3)) requeue = (this.opts.retryDelayMs ?? 5_000) * 2 ** (n - 1);
        else this.attempts.delete(entry.jobId);
      } finally {
        this.active.delete(entry.jobId);
        this.freeDevices.push(device);
      }
      if (requeue !== undefined) this.push(entry.jobId, entry.priority, requeue);
      this.pump();
    })();
  }
}

function order(a: Pending, b: Pending): number {
  return a.priority - b.priority || a.seq - b.seq;
}
