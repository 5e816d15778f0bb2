/**
 * The parent's handle on one learner child process (./child.ts): starts it, runs one train() or eval at a time
 * in it with the hooks served here, and turns its death — a signal, an abort, a non-zero exit, a closed channel —
 * into a LearnerCrashError that quotes what the child said last. Plain Node: the worker module wraps it per slot.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { EvalJobResult } from '../trainer/eval-job.js';
import type { CheckpointBlob, TrainConfig, TrainHooks } from '../trainer/types.js';
import {
  type ChildMessage,
  fromWire,
  type ParentMessage,
  type TrainSummary,
  type WireError,
} from './protocol.js';

/** The compiled child entry next to this file (dist/src/learner/process/child.js). */
export const LEARNER_ENTRY = fileURLToPath(new URL('./child.js', import.meta.url));

/** The learner child died (or never started) while it had work: the job fails with this message. */
export class LearnerCrashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LearnerCrashError';
  }
}

export interface LearnerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Ended by kill() from this side (a cancel, a superseded run, a recycle), not a crash. */
  killed: boolean;
  /** The uncaught exception the child reported before it exited, if any. */
  fatal?: WireError;
  /** Its last lines on stderr. */
  stderr: string[];
}

export interface LearnerProcessOptions {
  /** The child entry; tests that run from TypeScript sources point it at dist/. */
  entry?: string;
  env?: NodeJS.ProcessEnv;
  /** Every line the child writes, for the parent's log. */
  onLine?: (stream: 'stdout' | 'stderr', line: string) => void;
  /** How long the child may take to load tfjs and its backend. */
  startTimeoutMs?: number;
}

interface Active {
  hooks: TrainHooks;
  done: 'trained' | 'evaluated';
  /** Why this side gave up on the request (a hook threw, the caller aborted): the error it ends with. */
  abandoned?: unknown;
  finish(err: unknown, value?: unknown): void;
}

const TAIL_LINES = 40;
const QUOTED_LINES = 4;
/** Stack frames and section rulers of V8's crash reports ("1: 0x…", "at f (file:1:2)", "----- … -----"). */
const STACK_LINE = /^\s*(-{3,}.*-{3,}|\d+: (0x[0-9a-f]+.*|.*\(.*:\d+:\d+\))|at \S.*)\s*$/;

export class LearnerProcess {
  readonly startedAt = new Date();
  /** Resolves when the child has its backend up; rejects if it dies or times out first. */
  readonly ready: Promise<{ backend: string; ms: number }>;
  /** Resolves once the child has exited and its output is read. */
  readonly exited: Promise<LearnerExit>;
  private exit?: LearnerExit;
  private killed = false;
  private fatal?: WireError;
  private readonly stderr: string[] = [];
  private active?: Active;
  private readonly child: ChildProcess;

  private constructor(opts: LearnerProcessOptions) {
    const t0 = performance.now();
    this.child = fork(opts.entry ?? LEARNER_ENTRY, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // The worker's own flags (loaders, inspector) are not the learner's; NODE_OPTIONS still applies.
      execArgv: [],
      env: opts.env ?? process.env,
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.child[stream]! }).on('line', (line) => {
        if (stream === 'stderr' && line.trim()) {
          this.stderr.push(line);
          if (this.stderr.length > TAIL_LINES) this.stderr.shift();
        }
        opts.onLine?.(stream, line);
      });
    }
    let onReady: (v: { backend: string; ms: number }) => void = () => undefined;
    let onStartFailed: (e: Error) => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      onReady = resolve;
      onStartFailed = reject;
    });
    this.ready.catch(() => undefined); // observed by callers; never an unhandled rejection
    const startTimer = setTimeout(() => {
      onStartFailed(new LearnerCrashError(`learner process did not start within ${opts.startTimeoutMs} ms`));
      void this.kill();
    }, opts.startTimeoutMs ?? 180_000);

    this.child.on('message', (m: ChildMessage) => {
      if (m.t === 'ready') {
        clearTimeout(startTimer);
        onReady({ backend: m.backend, ms: Math.round(performance.now() - t0) });
      } else this.onMessage(m);
    });
    // A spawn failure (no such executable) is followed by 'close'; the message is kept for the crash text.
    this.child.on('error', (err) => this.stderr.push(err.message));
    // The channel also closes when the child exits; one that closes it and lives on could never answer: end it.
    this.child.on('disconnect', () => {
      setTimeout(() => {
        if (this.exit || this.killed) return;
        this.stderr.push('(the learner process closed its IPC channel and was ended)');
        this.child.kill('SIGKILL');
      }, 2_000).unref();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
        clearTimeout(startTimer);
        this.exit = { code, signal, killed: this.killed, fatal: this.fatal, stderr: [...this.stderr] };
        const crash = new LearnerCrashError(this.describe(this.exit));
        onStartFailed(crash);
        const a = this.active;
        this.active = undefined;
        a?.finish(a.abandoned ?? crash);
        resolve(this.exit);
      });
    });
  }

  static start(opts: LearnerProcessOptions = {}): LearnerProcess {
    return new LearnerProcess(opts);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exit;
  }

  get busy(): boolean {
    return this.active !== undefined;
  }

  train(
    config: TrainConfig,
    hooks: TrainHooks,
    opts: { resumeFrom?: CheckpointBlob; baseCheckpoint?: CheckpointBlob; stop?: AbortSignal } = {},
  ): Promise<TrainSummary> {
    const { stop, ...blobs } = opts;
    return this.request({ t: 'train', config, ...blobs }, hooks, 'trained', stop) as Promise<TrainSummary>;
  }

  evaluate(config: TrainConfig, base?: CheckpointBlob, stop?: AbortSignal): Promise<EvalJobResult> {
    return this.request({ t: 'eval', config, base }, {}, 'evaluated', stop) as Promise<EvalJobResult>;
  }

  /** SIGKILL (the child ignores SIGTERM: stopping a run cleanly is the parent's business); resolves once it is gone. */
  kill(): Promise<LearnerExit> {
    if (!this.exit && !this.killed) {
      this.killed = true;
      this.child.kill('SIGKILL');
    }
    return this.exited;
  }

  /** "learner process 123 was killed by SIGABRT: …; last output: …" */
  describe(exit: LearnerExit): string {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    let text = `learner process ${this.pid ?? '?'} ${how}`;
    if (exit.fatal) text += `: ${exit.fatal.name}: ${exit.fatal.message}`;
    // What the child said, not where: a crash report's stack frames would crowd out its message.
    const quoted = exit.stderr
      .filter((l) => !STACK_LINE.test(l))
      .slice(-QUOTED_LINES)
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}…` : l.trim()));
    if (quoted.length) text += `; its last output: ${quoted.join(' | ')}`;
    return text;
  }

  private async request(
    msg: ParentMessage,
    hooks: TrainHooks,
    done: Active['done'],
    stop?: AbortSignal,
  ): Promise<unknown> {
    if (this.active) throw new Error('the learner process is already running a job');
    await this.ready;
    if (this.exit) throw new LearnerCrashError(this.describe(this.exit));
    return new Promise((resolve, reject) => {
      const onAbort = () => this.abandon(active, stop?.reason);
      const active: Active = {
        hooks,
        done,
        finish: (err, value) => {
          if (this.active === active) this.active = undefined;
          stop?.removeEventListener('abort', onAbort);
          if (err === undefined) resolve(value);
          else reject(err instanceof Error ? err : new Error(String(err)));
        },
      };
      this.active = active;
      // Stopped before it began: the learner has nothing of this run to give up, it stays.
      if (stop?.aborted) return active.finish(stop.reason ?? new Error('stopped'));
      stop?.addEventListener('abort', onAbort, { once: true });
      // A failed send means the channel is closing: the 'close' handler reports the crash.
      this.child.send(msg, (err) => err && void this.kill());
    });
  }

  /** Gives up on the request: the child is killed and the request ends with `reason` once it is gone. */
  private abandon(active: Active, reason: unknown): void {
    active.abandoned ??= reason ?? new Error('learner request abandoned');
    void this.kill();
  }

  private onMessage(m: ChildMessage): void {
    const active = this.active;
    switch (m.t) {
      case 'fatal':
        this.fatal = m.error;
        return;
      case 'hook': {
        if (!active || active.abandoned) return;
        const fn = active.hooks[m.name] as ((...a: unknown[]) => unknown) | undefined;
        Promise.resolve()
          .then(() => fn?.apply(active.hooks, m.args))
          .then(
            (value) => this.reply({ t: 'reply', id: m.id, ok: true, value }),
            // A hook that throws (the run was superseded, the database is gone) ends the run here and now; the
            // child would only carry on computing for nobody.
            (err: unknown) => this.abandon(active, err),
          );
        return;
      }
      case 'trained':
      case 'evaluated':
        if (active && !active.abandoned && m.t === active.done) active.finish(undefined, m.result);
        return;
      case 'failed':
        if (active && !active.abandoned) active.finish(fromWire(m.error));
        return;
    }
  }

  private reply(m: ParentMessage): void {
    if (this.exit) return;
    this.child.send(m, (err) => err && void this.kill());
  }
}
