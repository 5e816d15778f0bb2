import { hostname } from 'node:os';
import type { WorkerInfo, WorkerRegistry } from './worker-registry.js';

export interface HeartbeatOptions {
  id: string;
  devices: string[];
  backend: string;
  ttlS: number;
  onError?: (err: unknown) => void;
}

/**
 * Refreshes this worker's registry entry every ttl/3 seconds, so one missed beat never makes a live worker
 * look dead; the entry carries the jobs running now. `stop()` deletes the entry at a clean shutdown.
 */
export class WorkerHeartbeat {
  private timer?: NodeJS.Timeout;
  private readonly jobs = new Map<string, string>();
  private readonly startedAt = new Date().toISOString();
  private backend: string;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly opts: HeartbeatOptions,
  ) {
    if (!(opts.ttlS > 0)) throw new Error(`heartbeat ttlS must be > 0, got ${opts.ttlS}`);
    this.backend = opts.backend;
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(200, (this.opts.ttlS * 1000) / 3));
    this.timer.unref();
  }

  /** Records what a device is running (undefined = idle) and publishes it at once. */
  async setJob(device: string, jobId: string | undefined, backend?: string): Promise<void> {
    if (jobId) this.jobs.set(device, jobId);
    else this.jobs.delete(device);
    if (backend) this.backend = backend;
    await this.beat();
  }

  info(): WorkerInfo {
    return {
      id: this.opts.id,
      host: hostname(),
      pid: process.pid,
      device: this.opts.devices.join(','),
      backend: this.backend,
      job: [...this.jobs.values()].join(','),
      started_at: this.startedAt,
      seen_at: new Date().toISOString(),
    };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.registry.remove(this.opts.id);
  }

  private async beat(): Promise<void> {
    try {
      await this.registry.beat(this.info(), this.opts.ttlS);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}
