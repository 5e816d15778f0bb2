import os from 'node:os';
import { Logger } from '@nestjs/common';
import { FieldError } from '../../learner/field-error.js';
import { LearnerCrashError, LearnerProcess } from '../../learner/process/learner-process.js';
import { LearnerError, type TrainSummary } from '../../learner/process/protocol.js';
import type { EvalJobResult } from '../../learner/trainer/eval-job.js';
import type { CheckpointBlob, TrainConfig, TrainHooks } from '../../learner/trainer/types.js';
import type { WorkerHeartbeat } from './heartbeat.js';
import type { JobLearner, LearnerRunOptions } from './job-learner.js';
import type { LearnerState } from './worker-registry.js';

/** `cpu` or `cpu:N`: a slot whose learner computes on the host's cores. */
const isCpuSlot = (device: string) => /^cpu(:\d+)?$/.test(device);

/**
 * The environment of a slot's learner process. A `cuda:N` slot sees only the N-th GPU visible to the worker
 * (CUDA_VISIBLE_DEVICES narrowed to it), so the slots of a multi-GPU worker each train on their own GPU: TensorFlow
 * would otherwise place every process's work on the first GPU it sees. The CPU slots split the cores between their
 * BLAS thread pools (POPO_BLAS_THREADS, unless the operator set it): OpenBLAS threads that outnumber the cores wait
 * on each other at every block. Otherwise a slot gets the worker's environment.
 */
export function learnerEnv(
  device: string,
  env: NodeJS.ProcessEnv = process.env,
  cpu: { slots: number; cores: number } = { slots: 1, cores: os.availableParallelism() },
): NodeJS.ProcessEnv {
  if (isCpuSlot(device)) {
    if (env.POPO_BLAS_THREADS || cpu.slots <= 1) return env;
    return { ...env, POPO_BLAS_THREADS: String(Math.max(1, Math.floor(cpu.cores / cpu.slots))) };
  }
  const m = /^cuda:(\d+)$/.exec(device);
  if (!m) return env;
  const index = Number(m[1]);
  const visible = env.CUDA_VISIBLE_DEVICES?.split(',')
    .map((d) => d.trim())
    .filter(Boolean);
  const id = visible ? visible[index] : String(index);
  // More slots than visible GPUs is the operator's choice: leave their setting alone.
  return id === undefined ? env : { ...env, CUDA_VISIBLE_DEVICES: id };
}

interface Slot {
  device: string;
  proc?: LearnerProcess;
  starting?: Promise<LearnerProcess>;
  started: boolean;
  running: boolean;
}

export interface LearnerSlotsOptions {
  /** The child entry (default: the compiled one beside the learner code). */
  entry?: string;
}

/**
 * One learner child process per device slot. A job runs in its slot's child; the child is kept for the next job
 * unless the run ended in anything but the user's own input error — a crash, an engine failure (a wasm abort
 * leaves the module unusable for good), a kill on cancel — after which the slot starts a fresh one at once.
 * Every change of a slot's learner goes into the worker heartbeat, so /v1/health shows it.
 */
export class LearnerSlots implements JobLearner {
  private readonly logger = new Logger('Learner');
  private readonly slots: Slot[];
  private closing = false;

  constructor(
    devices: string[],
    private readonly heartbeat: WorkerHeartbeat,
    private readonly opts: LearnerSlotsOptions = {},
  ) {
    this.slots = devices.map((device) => ({ device, started: false, running: false }));
  }

  /** Starts every slot's learner; the worker takes jobs only once they are up. */
  async start(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.ensure(s)));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.proc?.kill()));
  }

  train(
    device: string,
    config: TrainConfig,
    hooks: TrainHooks,
    opts: LearnerRunOptions,
  ): Promise<TrainSummary> {
    return this.run(device, (p) => p.train(config, hooks, opts));
  }

  evaluate(
    device: string,
    config: TrainConfig,
    base: CheckpointBlob | undefined,
    stop?: AbortSignal,
  ): Promise<EvalJobResult> {
    return this.run(device, (p) => p.evaluate(config, base, stop));
  }

  private async run<T>(device: string, fn: (p: LearnerProcess) => Promise<T>): Promise<T> {
    const slot = this.slot(device);
    const proc = await this.ensure(slot);
    slot.running = true;
    this.report(slot, proc, 'running');
    try {
      return await fn(proc);
    } catch (err) {
      if (err instanceof LearnerCrashError || err instanceof LearnerError) {
        const e = err as Error;
        await this.heartbeat.setCrash(device, `${e.name}: ${e.message}`);
      }
      // Only the user's input error leaves the engine as it was; anything else may have broken it.
      if (!(err instanceof FieldError) && proc.alive) await proc.kill();
      throw err;
    } finally {
      slot.running = false;
      if (proc.alive) this.report(slot, proc, 'idle');
      else this.replace(slot);
    }
  }

  /** The slot's live learner, starting one if there is none. */
  private ensure(slot: Slot): Promise<LearnerProcess> {
    if (slot.starting) return slot.starting;
    if (slot.proc?.alive) return Promise.resolve(slot.proc);
    const state = slot.started ? 'restarting' : 'starting';
    slot.started = true;
    const proc = LearnerProcess.start({
      entry: this.opts.entry,
      env: learnerEnv(slot.device, process.env, {
        slots: this.slots.filter((s) => isCpuSlot(s.device)).length,
        cores: os.availableParallelism(),
      }),
      onLine: (stream, line) =>
        stream === 'stderr'
          ? this.logger.warn(`[${slot.device} pid ${proc.pid}] ${line}`)
          : this.logger.log(`[${slot.device} pid ${proc.pid}] ${line}`),
    });
    slot.proc = proc;
    this.report(slot, proc, state);
    void proc.exited.then((exit) => {
      if (slot.proc !== proc || this.closing || exit.killed || slot.running) return;
      // Died while idle (the OOM killer, a stray signal): nobody's job failed, but the slot needs a new learner.
      const text = proc.describe(exit);
      this.logger.error(`${slot.device}: ${text}`);
      void this.heartbeat.setCrash(slot.device, `LearnerCrashError: ${text}`);
      this.replace(slot);
    });
    slot.starting = (async () => {
      try {
        const { backend, ms } = await proc.ready;
        this.logger.log(`${slot.device}: learner process ${proc.pid} up in ${ms} ms (${backend})`);
        this.report(slot, proc, 'idle', backend);
        return proc;
      } catch (err) {
        this.logger.error(`${slot.device}: ${(err as Error).message}`);
        void this.heartbeat.setCrash(slot.device, `LearnerCrashError: ${(err as Error).message}`);
        this.report(slot, proc, 'down');
        throw err;
      } finally {
        slot.starting = undefined;
      }
    })();
    return slot.starting;
  }

  /** A fresh learner for the next job, started now so that job does not wait for it. */
  private replace(slot: Slot): void {
    if (this.closing) return;
    this.ensure(slot).catch(() => undefined); // logged and reported by ensure; the next job tries again
  }

  private report(slot: Slot, proc: LearnerProcess, state: LearnerState, backend?: string): void {
    if (this.closing) return;
    const pid = state === 'down' ? null : (proc.pid ?? null);
    void this.heartbeat.setLearner(slot.device, { pid, state, backend });
  }

  private slot(device: string): Slot {
    const slot = this.slots.find((s) => s.device === device);
    if (!slot) throw new Error(`no learner slot for device ${device}`);
    return slot;
  }
}
