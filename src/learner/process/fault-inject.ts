/**
 * TEST-ONLY fault injection for the learner child process, read from POPO_FAULT_INJECT by ./child.ts and by
 * nothing else (the worker process never looks at it). It exists so tests can crash or hang a real learner on
 * purpose; never set it in production.
 *
 *   POPO_FAULT_INJECT=<fault>[,<fault>...]   fault = <kind>-at-step:<n>[:seed=<s>][:ms=<ms>]
 *
 *   abort-at-step:N      process.abort() when step N is reported: a native crash (SIGABRT), like an engine abort
 *   wasm-trap-at-step:N  a real WebAssembly trap in the wasm backend ("table index is out of bounds")
 *   block-at-step:N      blocks the child's event loop for `ms` (default 10 min): a step that does not end
 *
 * `seed=S` limits a fault to runs whose config has that seed, so one worker can run a faulty job and then a
 * healthy one. A fault fires before step N's metrics leave the child: steps 1..N-1 are recorded.
 */
import { writeSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';

export type FaultKind = 'abort' | 'wasm-trap' | 'block';

export interface Fault {
  kind: FaultKind;
  step: number;
  seed?: number;
  ms: number;
}

const KINDS: readonly FaultKind[] = ['abort', 'wasm-trap', 'block'];

export function parseFaults(spec: string | undefined): Fault[] {
  if (!spec?.trim()) return [];
  return spec.split(',').map((part) => {
    const [head, ...opts] = part.trim().split(':');
    const m = /^([a-z-]+)-at-step$/.exec(head ?? '');
    const kind = m?.[1] as FaultKind | undefined;
    const step = Number(opts.shift());
    if (!kind || !KINDS.includes(kind) || !Number.isInteger(step) || step < 1)
      throw new Error(`POPO_FAULT_INJECT: cannot read "${part}" (e.g. abort-at-step:2:seed=7)`);
    const fault: Fault = { kind, step, ms: 600_000 };
    for (const o of opts) {
      const [k, v] = o.split('=');
      if ((k !== 'seed' && k !== 'ms') || !Number.isFinite(Number(v)))
        throw new Error(`POPO_FAULT_INJECT: unknown option "${o}" in "${part}" (seed=<n>, ms=<n>)`);
      fault[k] = Number(v);
    }
    return fault;
  });
}

/** The faults that apply to a run with this seed. */
export const faultsFor = (faults: Fault[], seed: number): Fault[] =>
  faults.filter((f) => f.seed === undefined || f.seed === seed);

interface WasmModule {
  dynCall_jiji(index: number, ...args: number[]): number;
}

export function fire(fault: Fault): void {
  // Synchronous: the line must be in the pipe before the process dies (the parent quotes it in the job's error).
  writeSync(2, `POPO_FAULT_INJECT: ${fault.kind} at step ${fault.step} (pid ${process.pid})\n`);
  switch (fault.kind) {
    case 'abort':
      process.abort();
      break;
    case 'wasm-trap': {
      const wasm = (tf.backend() as unknown as { wasm?: WasmModule }).wasm;
      if (!wasm)
        throw new Error(`POPO_FAULT_INJECT: wasm-trap needs the wasm backend, not ${tf.getBackend()}`);
      // An indirect call through a function-table slot that does not exist traps inside the engine.
      wasm.dynCall_jiji(0x7fffffff, 0, 0, 0);
      break;
    }
    case 'block':
      // The event loop stops as in a long wasm kernel, without burning a core (the test machines are shared).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, fault.ms);
      break;
  }
}
