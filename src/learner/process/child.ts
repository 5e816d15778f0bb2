/**
 * The learner child process: `fork(dist/src/learner/process/child.js, { serialization: 'advanced' })` by a worker
 * slot (./learner-process.ts). It runs one train() or eval at a time and proxies every hook to the parent, which
 * owns the database. An engine abort, a wasm trap or an out-of-memory death ends only this process.
 */
import { OutboundPolicy } from '../../common/ssrf-guard.js';
import { initBackend } from '../backend.js';
import { runEvalJob } from '../trainer/eval-job.js';
import { train } from '../trainer/train.js';
import type { StepMetrics, TrainHooks } from '../trainer/types.js';
import { faultsFor, fire, parseFaults } from './fault-inject.js';
import { dieWithParent } from './parent-death.js';
import {
  type ChildMessage,
  fromWire,
  HOOK_NAMES,
  type HookName,
  type ParentMessage,
  summarize,
  toWire,
} from './protocol.js';

const send = (m: ChildMessage) => process.send?.(m);

if (!process.send) {
  process.stderr.write(
    'the learner child must be started by a worker with an IPC channel (child_process.fork)\n',
  );
  process.exit(2);
}

// The parent decides when a run stops (it checkpoints on its own SIGTERM and then ends this process); a signal
// sent to the whole process group (a terminal's Ctrl-C, a service manager) must not kill the run under it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => undefined);
// The parent is gone (even SIGKILLed): nobody will read what this process computes. The kernel ends it at once
// where it can; otherwise it exits when it sees the channel close (after the step it is in).
dieWithParent();
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => {
  send({ t: 'fatal', error: toWire(err) });
  process.exit(70);
});

const faults = parseFaults(process.env.POPO_FAULT_INJECT);
// Where a run's HTTP reward graders may connect: the worker's own POPO_OUTBOUND_ALLOW (this process inherits its
// environment), public addresses only without it.
const outbound = OutboundPolicy.parse(process.env.POPO_OUTBOUND_ALLOW);
let nextId = 0;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

function callParent(name: HookName, args: unknown[]): Promise<unknown> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    send({ t: 'hook', id, name, args });
  });
}

function proxiedHooks(seed: number): TrainHooks {
  const hooks = Object.fromEntries(
    HOOK_NAMES.map((name) => [name, (...args: unknown[]) => callParent(name, args)]),
  ) as TrainHooks;
  const mine = faultsFor(faults, seed);
  if (mine.length) {
    const onStep = hooks.onStep!;
    hooks.onStep = (m: StepMetrics) => {
      for (const f of mine) if (f.step === m.step) fire(f);
      return onStep(m);
    };
  }
  return hooks;
}

async function handle(m: ParentMessage): Promise<void> {
  switch (m.t) {
    case 'reply': {
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (m.ok) p?.resolve(m.value);
      else p?.reject(fromWire(m.error));
      return;
    }
    case 'train':
      try {
        const result = await train(m.config, proxiedHooks(m.config.seed), {
          resumeFrom: m.resumeFrom,
          baseCheckpoint: m.baseCheckpoint,
          outbound,
        });
        send({ t: 'trained', result: summarize(result) });
      } catch (err) {
        send({ t: 'failed', error: toWire(err) });
      }
      return;
    case 'eval':
      try {
        send({ t: 'evaluated', result: await runEvalJob(m.config, m.base, outbound) });
      } catch (err) {
        send({ t: 'failed', error: toWire(err) });
      }
      return;
  }
}

process.on('message', (m: ParentMessage) => void handle(m));

// Paid once per child, before the first job: the wasm module is compiled and the slot reports its backend.
const info = await initBackend('auto');
send({ t: 'ready', pid: process.pid, backend: info.label });
