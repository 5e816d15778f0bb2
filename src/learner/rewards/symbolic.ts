import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { SYMBOLIC_WORKER_SOURCE } from './symbolic-worker-source.js';

/** Points at which expressions with free variables are compared. */
export const SYMBOLIC_POINTS = 6;

/** One evaluated expression: `values` holds `SYMBOLIC_POINTS` pairs (re, im), NaN where not numeric. */
/**
 * `exact`: for a constant that compute-engine evaluates to an integer or a rational with safe-integer parts,
 * that value as "n" or "n/d", so 2^{20} and 1048577 are compared exactly, not within a tolerance.
 */
export type SymbolicValue =
  { ok: true; json: string; values: number[]; exact?: string } | { ok: false; error: string };

export type SymbolicBatch =
  | { status: 'ok'; results: SymbolicValue[] }
  | { status: 'timeout' | 'unavailable' | 'error'; reason: string };

interface Reply {
  id: number;
  results?: SymbolicValue[];
  error?: string;
}

/** Time allowed for a fresh worker to load compute-engine, on top of the request's own timeout. */
const BOOT_ALLOWANCE_MS = 20_000;
/** After this many failed boots in a row the worker is not tried again in this process. */
const MAX_BOOT_FAILURES = 3;
const MEMORY_LIMIT_MB = 256;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** URL of compute-engine's ES module build, resolved from this package (the worker has no module context). */
function engineModuleUrl(): string {
  const cjsPath = createRequire(import.meta.url).resolve('@cortex-js/compute-engine');
  return pathToFileURL(join(dirname(cjsPath), 'compute-engine.min.esm.js')).href;
}

/**
 * A compute-engine worker thread called synchronously: the caller blocks in `Atomics.wait` until the
 * reply or the deadline. On a deadline the thread is terminated (compute-engine work cannot be
 * interrupted from inside: one `10^{10^{10}}` would otherwise hang or exhaust the heap of the trainer)
 * and a new one is started on the next call. The memory limit makes a runaway expression kill only
 * the worker.
 */
class SymbolicWorker {
  private worker?: Worker;
  private port?: MessagePort;
  private signal?: Int32Array;
  private booted = false;
  private nextId = 1;
  private bootFailures = 0;
  private lastError = '';

  evaluate(exprs: string[], timeoutMs: number): SymbolicBatch {
    if (this.bootFailures >= MAX_BOOT_FAILURES) {
      return { status: 'unavailable', reason: `symbolic worker failed to start: ${this.lastError}` };
    }
    if (!this.worker) this.start();
    const port = this.port!;
    const signal = this.signal!;
    const id = this.nextId++;
    const seen = Atomics.load(signal, 0);
    port.postMessage({ id, exprs, budgetMs: timeoutMs });
    const deadline = performance.now() + timeoutMs + (this.booted ? 0 : BOOT_ALLOWANCE_MS);
    for (;;) {
      const got = receiveMessageOnPort(port) as { message: Reply } | undefined;
      if (got && got.message.id === id) {
        const reply = got.message;
        if (reply.error !== undefined) {
          if (!this.booted) this.failBoot(reply.error);
          return { status: 'error', reason: reply.error };
        }
        this.booted = true;
        this.bootFailures = 0;
        return { status: 'ok', results: reply.results ?? [] };
      }
      if (got) continue; // a reply to an earlier request (cannot happen after a restart; harmless)
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      if (Atomics.load(signal, 0) === seen) Atomics.wait(signal, 0, seen, remaining);
      else Atomics.wait(sleepCell, 0, 0, 1); // signalled but the message is not visible yet
    }
    const wasBooted = this.booted;
    void this.stop();
    if (!wasBooted) {
      this.failBoot('no reply while starting');
      return { status: 'unavailable', reason: 'symbolic worker did not start in time' };
    }
    return { status: 'timeout', reason: `symbolic check exceeded ${timeoutMs} ms` };
  }

  private failBoot(error: string): void {
    this.bootFailures++;
    this.lastError = error;
    void this.stop();
  }

  private start(): void {
    const engineUrl = engineModuleUrl();
    const { port1, port2 } = new MessageChannel();
    const signalBuffer = new SharedArrayBuffer(4);
    const worker = new Worker(SYMBOLIC_WORKER_SOURCE, {
      eval: true,
      workerData: { port: port2, signal: signalBuffer, engineUrl, points: SYMBOLIC_POINTS },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: MEMORY_LIMIT_MB },
    });
    // Without listeners an out-of-memory or crash in the worker would be an uncaught 'error' in the caller.
    worker.on('error', () => {
      if (this.worker === worker) void this.stop();
    });
    worker.on('exit', () => {
      if (this.worker === worker) void this.stop();
    });
    worker.unref();
    this.worker = worker;
    this.port = port1;
    this.signal = new Int32Array(signalBuffer);
    this.booted = false;
  }

  stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.port?.close();
    this.port = undefined;
    this.signal = undefined;
    this.booted = false;
    return worker ? worker.terminate().then(() => undefined) : Promise.resolve();
  }
}

const shared = new SymbolicWorker();

/**
 * Parses and numerically evaluates LaTeX expressions in the compute-engine worker, blocking for at most
 * `timeoutMs` (plus a one-off allowance while the worker first starts).
 */
export function evaluateLatex(exprs: string[], timeoutMs: number): SymbolicBatch {
  if (exprs.length === 0) return { status: 'ok', results: [] };
  try {
    return shared.evaluate(exprs, timeoutMs);
  } catch (err) {
    return { status: 'error', reason: `symbolic worker: ${(err as Error).message}` };
  }
}

/** Starts the worker ahead of the first verification (it takes a few hundred ms to load). */
export function warmUpSymbolic(): boolean {
  return evaluateLatex(['1+1'], 1000).status === 'ok';
}

/** Terminates the worker (tests, shutdown). A later call starts a new one. */
export function stopSymbolicWorker(): Promise<void> {
  return shared.stop();
}
