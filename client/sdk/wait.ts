import { setTimeout as sleep } from 'node:timers/promises';
import { PopoApiError, PopoConnectionError, PopoTimeoutError } from './errors.js';
import {
  type EventsQuery,
  isTerminal,
  type Job,
  type JobEvent,
  type JobStatus,
  type MetricPoint,
  type Metrics,
  type MetricsQuery,
} from './types.js';

export interface WaitOptions {
  /** Stop at a terminal state (default), at any of these states, or when the predicate holds. */
  until?: 'terminal' | readonly JobStatus[] | ((job: Job) => boolean);
  /** New metric steps, in order, each step exactly once per run (a resume may rewind and repeat steps). */
  onMetrics?: (points: MetricPoint[], job: Job) => void | Promise<void>;
  /** Every status change seen, starting with the status at the first poll. */
  onStatus?: (job: Job) => void | Promise<void>;
  /**
   * New job events (state changes, warnings such as `zero_positive_dominates`, evals), oldest first, each once;
   * read when the status or the step moved, and once more at the end.
   */
  onEvents?: (events: JobEvent[], job: Job) => void | Promise<void>;
  /** Poll period (default 1000 ms). */
  intervalMs?: number;
  /** Give up after this long with a PopoTimeoutError naming the job and its last status (default: forever). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * Consecutive transient failures tolerated while polling (no answer, 429, 502, 503, 504; default 5), so a
   * long CI wait survives an API restart. Any other error is thrown at once.
   */
  retries?: number;
}

const isTransient = (e: unknown) =>
  e instanceof PopoConnectionError || (e instanceof PopoApiError && [429, 502, 503, 504].includes(e.status));

interface JobReader {
  get(id: string): Promise<Job>;
  metrics(id: string, query: MetricsQuery): Promise<Metrics>;
  events?(id: string, query: EventsQuery): Promise<JobEvent[]>;
}

const EVENTS_PAGE = 1000; // the API's maximum page of events

const PAGE = 10_000; // the API's maximum page of raw steps

/**
 * Polls `GET /v1/jobs/:id`, and `GET /v1/jobs/:id/metrics?fromStep=` only when `progress_step` moved, so an idle
 * wait costs one small request per period. Metrics are drained once more at the end, so `onMetrics` has seen
 * every recorded step by the time this resolves.
 */
export async function waitForJob(api: JobReader, id: string, opts: WaitOptions = {}): Promise<Job> {
  const interval = opts.intervalMs ?? 1000;
  const deadline = opts.timeoutMs === undefined ? Infinity : Date.now() + opts.timeoutMs;
  const until = opts.until ?? 'terminal';
  const done =
    until === 'terminal'
      ? (job: Job) => isTerminal(job.status)
      : typeof until === 'function'
        ? until
        : (job: Job) => until.includes(job.status);
  let lastStep = 0;
  let lastStatus: JobStatus | undefined;

  const drainMetrics = async (job: Job) => {
    if (!opts.onMetrics) return;
    // A job resumed from an earlier checkpoint re-records the steps after it.
    if (job.progress_step < lastStep) lastStep = job.progress_step;
    while (job.progress_step > lastStep) {
      const page = await api.metrics(id, { fromStep: lastStep + 1, limit: PAGE });
      if (page.items.length === 0) break;
      lastStep = page.items.at(-1)!.step;
      await opts.onMetrics(page.items, job);
      if (page.items.length < PAGE) break;
    }
  };

  let lastEventId = 0;
  let eventsAt: string | undefined;
  const drainEvents = async (job: Job, final: boolean) => {
    if (!opts.onEvents || !api.events) return;
    const mark = `${job.status} ${job.progress_step}`;
    if (!final && mark === eventsAt) return;
    for (;;) {
      const page = await api.events(id, { after: lastEventId, limit: EVENTS_PAGE });
      if (page.length === 0) break;
      lastEventId = page.at(-1)!.id;
      await opts.onEvents(page, job);
      if (page.length < EVENTS_PAGE) break;
    }
    eventsAt = mark;
  };

  const retries = opts.retries ?? 5;
  let failures = 0;
  for (;;) {
    opts.signal?.throwIfAborted();
    let job: Job | undefined;
    try {
      job = await api.get(id);
      if (job.status !== lastStatus) {
        lastStatus = job.status;
        await opts.onStatus?.(job);
      }
      await drainMetrics(job);
      await drainEvents(job, done(job));
      failures = 0;
    } catch (e) {
      if (!isTransient(e) || ++failures > retries) throw e;
      job = undefined;
    }
    if (job && done(job)) return job;
    if (Date.now() + interval > deadline) throw new PopoTimeoutError(id, lastStatus, opts.timeoutMs!);
    await sleep(interval, undefined, { signal: opts.signal });
  }
}
