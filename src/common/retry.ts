import { isTransientDbError } from './pg-errors.js';

export interface RetryOptions {
  /** Give up (rethrow the last error) once this much time has passed since the first attempt. */
  budgetMs: number;
  /** First delay; doubles per attempt up to maxDelayMs, with ±20 % jitter so many callers do not retry in step. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Which errors are worth another try; default: the database is unavailable (isTransientDbError). */
  retryable?: (err: unknown) => boolean;
  /** Told about each failure that will be retried (for a log line or a job event). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` until it succeeds, retrying transient failures with exponential backoff within a time budget.
 * Non-retryable errors, and the last error once the budget is spent, are rethrown as they are.
 */
export async function retryTransient<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T> {
  const { budgetMs, initialDelayMs = 200, maxDelayMs = 5_000, retryable = isTransientDbError } = opts;
  const start = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const base = Math.min(maxDelayMs, initialDelayMs * 2 ** (attempt - 1));
      const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
      if (!retryable(err) || Date.now() - start + delay > budgetMs) throw err;
      opts.onRetry?.(err, attempt, delay);
      await sleep(delay);
    }
  }
}

/** Thrown by withTimeout: the dependency did not answer in time (the API turns it into a 503). */
export class DependencyTimeoutError extends Error {
  constructor(
    readonly dependency: string,
    ms: number,
  ) {
    super(`${dependency} did not answer within ${ms} ms`);
    this.name = 'DependencyTimeoutError';
  }
}

/** Rejects with DependencyTimeoutError if `p` has not settled after `ms`; `p` itself is left to finish. */
export function withTimeout<T>(p: Promise<T>, ms: number, dependency: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DependencyTimeoutError(dependency, ms)), ms);
    timer.unref();
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
