import { PopoApiError, PopoConnectionError, PopoTimeoutError } from './errors.js';
import {
  isTerminal,
  type Job,
  type JobEvent,
  type MetricPoint,
  type Metrics,
  type MetricsQuery,
} from './types.js';

/** What the service's socket.io gateway sends a subscriber of one job (src/modules/realtime/events.ts). */
interface ServerEvents {
  'job.status': (job: Job) => void;
  'job.metrics': (point: MetricPoint & { job_id: string }) => void;
  'job.event': (event: JobEvent) => void;
}

type SubscribeAck =
  | { ok: true; room: string; status?: Job; latest_metrics?: MetricPoint }
  | { ok: false; error: { code: string; message: string } };

/** The part of socket.io-client's Socket used here (the package is loaded only when a stream opens). */
interface MinimalSocket {
  on<E extends keyof ServerEvents>(event: E, listener: ServerEvents[E]): unknown;
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'connect_error', listener: (err: Error) => void): unknown;
  emit(event: 'subscribe', req: Record<string, unknown>, ack: (res: SubscribeAck) => void): unknown;
  close(): unknown;
}

export interface StreamOptions {
  /** Each new step, in order, once (steps recorded before the stream opened come first, read over HTTP). */
  onMetrics?: (point: MetricPoint) => void;
  /** Every status the job passes through while streaming, starting with its status when subscribed. */
  onStatus?: (job: Job) => void;
  /** Events (warnings, evals, state changes) recorded while streaming. */
  onEvent?: (event: JobEvent) => void;
  /**
   * Failed connection attempts in a row before `done` rejects with PopoConnectionError (default 10: socket.io
   * waits 1 s, 2 s, … up to 5 s between them, so an API restart of about 40 s is ridden out).
   */
  retries?: number;
  /** Reject `done` with PopoTimeoutError after this long (the job itself goes on). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * A job's metrics as they happen, over socket.io: iterate it (`for await (const point of stream)`), or pass
 * `onMetrics` and await `done`. It ends when the job reaches a terminal state, after every recorded step has been
 * delivered; `done` resolves with the job then.
 */
export interface MetricStream extends AsyncIterable<MetricPoint> {
  /** The job in its terminal state; rejects on a refused subscription, timeout, abort or `close()`. */
  readonly done: Promise<Job>;
  /** Stops listening; `done` rejects with an AbortError unless the job had already ended. */
  close(): void;
}

interface StreamContext {
  baseUrl: string;
  token: string;
  metrics(id: string, query: MetricsQuery): Promise<Metrics>;
}

const PAGE = 10_000;

async function loadSocketIo(): Promise<(url: string, opts: Record<string, unknown>) => MinimalSocket> {
  try {
    const mod = (await import('socket.io-client')) as unknown as {
      io: (url: string, opts: Record<string, unknown>) => MinimalSocket;
    };
    return mod.io;
  } catch (cause) {
    throw new Error('streamMetrics needs the socket.io-client package (npm install socket.io-client)', {
      cause,
    });
  }
}

export function streamMetrics(ctx: StreamContext, jobId: string, opts: StreamOptions = {}): MetricStream {
  // Everything that touches state runs through this chain, one handler at a time, so a socket update that arrives
  // while the HTTP backfill is in flight is applied after it, and each step is delivered once, in order.
  let chain = Promise.resolve();
  const serial = (fn: () => void | Promise<void>) => {
    chain = chain.then(() => (finished ? undefined : fn())).catch(fail);
  };
  let lastStep = 0;
  let lastStatus: Job['status'] | undefined;
  let finished = false;
  let socket: MinimalSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  const queue: MetricPoint[] = [];
  let wake: (() => void) | undefined;
  let resolveDone!: (job: Job) => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<Job>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  let failure: unknown;
  // `done` may be awaited only through the iterator; its rejection must not also surface as unhandled.
  done.catch(() => undefined);

  function stop() {
    finished = true;
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    socket?.close();
    wake?.();
  }
  function fail(err: unknown) {
    if (finished) return;
    failure = err;
    stop();
    rejectDone(err);
  }
  function onAbort() {
    fail(opts.signal?.reason ?? new DOMException('streamMetrics aborted', 'AbortError'));
  }

  function deliver(points: readonly MetricPoint[]) {
    for (const p of [...points].sort((a, b) => a.step - b.step)) {
      if (p.step <= lastStep) continue; // a snapshot racing an update, or a step the backfill already read
      lastStep = p.step;
      opts.onMetrics?.(p);
      queue.push(p);
    }
    wake?.();
  }

  /** Steps recorded after `lastStep`, over HTTP: what happened before the subscription, or while disconnected. */
  async function backfill() {
    for (;;) {
      const page = await ctx.metrics(jobId, { fromStep: lastStep + 1, limit: PAGE });
      deliver(page.items);
      if (page.items.length < PAGE) return;
    }
  }

  async function onStatus(job: Job) {
    if (finished || job.id !== jobId) return;
    // The subscription's snapshot arrives both as an event and in the ack.
    if (job.status !== lastStatus) opts.onStatus?.(job);
    lastStatus = job.status;
    if (!isTerminal(job.status)) return;
    await backfill(); // every step is recorded before the job leaves `running`
    finished = true;
    stop();
    resolveDone(job);
  }

  /** The one place that (re)subscribes: on every connect, including socket.io's reconnects. */
  function subscribe(s: MinimalSocket) {
    // since_step: the server replays every step after it from Postgres before the live ones.
    s.emit('subscribe', { job_id: jobId, since_step: lastStep }, (ack) =>
      serial(async () => {
        if (!ack.ok) {
          const status = ack.error.code === 'not_found' ? 404 : 400;
          throw new PopoApiError(status, ack.error.code, ack.error.message);
        }
        await backfill();
        if (ack.status) await onStatus(ack.status);
      }),
    );
  }

  (async () => {
    const io = await loadSocketIo();
    if (finished) return;
    const s = io(ctx.baseUrl, { auth: { token: ctx.token }, transports: ['websocket'], forceNew: true });
    socket = s;
    let failures = 0;
    s.on('connect', () => {
      failures = 0;
      subscribe(s);
    });
    s.on('connect_error', (err: Error) => {
      // Refused keys are final; anything else (no answer, a restart) socket.io retries on its own, up to a point.
      if (/^(unauthorized|forbidden)/.test(err.message))
        fail(new PopoApiError(err.message.startsWith('forbidden') ? 403 : 401, 'unauthorized', err.message));
      else if (++failures > (opts.retries ?? 10)) fail(new PopoConnectionError(ctx.baseUrl, { cause: err }));
    });
    s.on('job.metrics', (p: MetricPoint & { job_id: string }) => {
      if (p.job_id !== jobId) return;
      // A gap (pub/sub lost messages while Redis restarted, the socket stayed up): read the missing steps first.
      serial(async () => {
        if (p.step > lastStep + 1) await backfill();
        deliver([p]);
      });
    });
    s.on('job.status', (job: Job) => serial(() => onStatus(job)));
    s.on('job.event', (e: JobEvent) => {
      if (e.job_id === jobId) serial(() => opts.onEvent?.(e));
    });
  })().catch((cause: unknown) =>
    fail(
      cause instanceof Error && /socket\.io-client/.test(cause.message)
        ? cause
        : new PopoConnectionError(ctx.baseUrl, { cause }),
    ),
  );

  if (opts.timeoutMs !== undefined) {
    timer = setTimeout(() => fail(new PopoTimeoutError(jobId, lastStatus, opts.timeoutMs!)), opts.timeoutMs);
  }
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort);

  return {
    done,
    close: () => fail(new DOMException('streamMetrics closed', 'AbortError')),
    async *[Symbol.asyncIterator]() {
      try {
        for (;;) {
          if (queue.length) {
            yield queue.shift()!;
            continue;
          }
          if (failure) throw failure;
          if (finished) return;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      } finally {
        // A `break` out of the loop: stop listening.
        fail(new DOMException('streamMetrics closed', 'AbortError'));
      }
    },
  };
}
