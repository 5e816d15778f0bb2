/**
 * The messages between a worker slot and its learner child process (./child.ts), sent over the fork IPC channel
 * with `serialization: 'advanced'` (structured clone), so checkpoint bytes travel as Uint8Array without base64.
 * One request (train or eval) at a time; while it runs, the child calls the run's hooks through `hook` messages
 * and waits for each `reply`, so the parent's writes keep the order and back-pressure of in-process hooks.
 */
import { FieldError } from '../field-error.js';
import type { EvalJobResult } from '../trainer/eval-job.js';
import type { CheckpointBlob, TrainConfig, TrainHooks, TrainResult } from '../trainer/types.js';

export type HookName = keyof TrainHooks & string;
export const HOOK_NAMES: readonly HookName[] = [
  'onStep',
  'onCompletions',
  'onCheckpoint',
  'onEval',
  'onEvent',
  'onResume',
  'shouldStop',
];

/** What train() returns, without the final checkpoint's bytes: onCheckpoint has already delivered them. */
export type TrainSummary = Omit<TrainResult, 'final_checkpoint'> & { final_checkpoint_step?: number };

export const summarize = ({ final_checkpoint, ...rest }: TrainResult): TrainSummary => ({
  ...rest,
  ...(final_checkpoint ? { final_checkpoint_step: final_checkpoint.step } : {}),
});

/** An exception as it crosses the process boundary; `field`/`reason` mark the user's input errors (FieldError). */
export interface WireError {
  name: string;
  message: string;
  stack?: string;
  field?: string;
  reason?: string;
}

export type ParentMessage =
  | { t: 'train'; config: TrainConfig; resumeFrom?: CheckpointBlob; baseCheckpoint?: CheckpointBlob }
  | { t: 'eval'; config: TrainConfig; base?: CheckpointBlob }
  | { t: 'reply'; id: number; ok: true; value?: unknown }
  | { t: 'reply'; id: number; ok: false; error: WireError };

export type ChildMessage =
  /** Sent once the backend is initialised: the child takes requests from now on. */
  | { t: 'ready'; pid: number; backend: string }
  | { t: 'hook'; id: number; name: HookName; args: unknown[] }
  | { t: 'trained'; result: TrainSummary }
  | { t: 'evaluated'; result: EvalJobResult }
  /** The request threw; the child lives on. */
  | { t: 'failed'; error: WireError }
  /** An uncaught exception: the child exits right after sending this. */
  | { t: 'fatal'; error: WireError };

export function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const wire: WireError = { name: err.name, message: err.message, stack: err.stack };
  if (err instanceof FieldError) Object.assign(wire, { field: err.field, reason: err.reason });
  return wire;
}

/** An internal error the learner child reported (the original class name is kept in `name`). */
export class LearnerError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
    if (wire.stack) this.stack = wire.stack;
  }
}

/** The child's exception, rebuilt: a FieldError stays one (the job's failure is the user's input), with its text. */
export function fromWire(wire: WireError): Error {
  if (wire.field === undefined) return new LearnerError(wire);
  const err = new FieldError(wire.field, wire.reason ?? wire.message);
  err.message = wire.message;
  err.name = wire.name;
  if (wire.stack) err.stack = wire.stack;
  return err;
}
