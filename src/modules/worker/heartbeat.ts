import { hostname } from 'node:os';
import type { LearnerState, SlotInfo, WorkerInfo, WorkerRegistry } from './worker-registry.js';

export interface HeartbeatOptions {
  id: string;
  devices: string[];
  backend: string;
  ttlS: number;
  onError?: (err: unknown) => void;
}

/**
 * Refreshes this worker's registry entry every ttl/3 seconds, so one missed beat never makes a live worker
 * look dead; the entry carries each device slot (its job, its learner process and last crash), republished at
 * once when any of them changes. `stop()` deletes the entry at a clean shutdown.
 */
export class WorkerHeartbeat {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly slots: SlotInfo[];
  private readonly startedAt = new Date().toISOString();
  private backend: string;

  constructor(
    private readonly registry: WorkerRegistry,
    private readonly opts: HeartbeatOptions,
  ) {
    if (!(opts.ttlS > 0)) throw new Error(`heartbeat ttlS must be > 0, got ${opts.ttlS}`);
    this.backend = opts.backend;
    this.slots = opts.devices.map((device, index) => ({
      index,
      device,
      backend: null,
      job: null,
      learner: { pid: null, state: 'starting', since: this.startedAt },
      last_crash: null,
    }));
  }

  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(200, (this.opts.ttlS * 1000) / 3));
    this.timer.unref();
  }

  /** Records what a device is running (undefined = idle) and publishes it at once. */
  async setJob(device: string, jobId: string | undefined, backend?: string): Promise<void> {
    this.slot(device).job = jobId ?? null;
    if (backend) this.backend = backend;
    await this.beat();
  }

  /** The slot's learner process changed state (started, took a job, died, restarts). */
  async setLearner(
    device: string,
    learner: { pid: number | null; state: LearnerState; backend?: string },
  ): Promise<void> {
    const slot = this.slot(device);
    slot.learner = { pid: learner.pid, state: learner.state, since: new Date().toISOString() };
    if (learner.backend) slot.backend = this.backend = learner.backend;
    await this.beat();
  }

  /** The slot's learner crashed (recorded against the job it was running, if any). */
  async setCrash(device: string, error: string): Promise<void> {
    const slot = this.slot(device);
    slot.last_crash = { at: new Date().toISOString(), job: slot.job, error };
    await this.beat();
  }

  info(): WorkerInfo {
    return {
      id: this.opts.id,
      host: hostname(),
      pid: process.pid,
      device: this.slots.map((s) => s.device).join(','),
      backend: this.backend,
      job: this.slots.flatMap((s) => (s.job ? [s.job] : [])).join(','),
      started_at: this.startedAt,
      seen_at: new Date().toISOString(),
      slots: structuredClone(this.slots),
    };
  }

  async stop(): Promise<void> {
    // A late slot change (a learner exiting during shutdown) must not bring the entry back.
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.registry.remove(this.opts.id);
  }

  private slot(device: string): SlotInfo {
    let slot = this.slots.find((s) => s.device === device);
    if (!slot) {
      slot = {
        index: this.slots.length,
        device,
        backend: null,
        job: null,
        learner: { pid: null, state: 'starting', since: new Date().toISOString() },
        last_crash: null,
      };
      this.slots.push(slot);
    }
    return slot;
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.registry.beat(this.info(), this.opts.ttlS);
    } catch (err) {
      this.opts.onError?.(err);
    }
  }
}
