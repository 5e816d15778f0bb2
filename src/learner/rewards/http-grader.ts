import { OutboundRefusedError, outboundRequest, type OutboundPolicy } from '../../common/ssrf-guard.js';

/**
 * A user-supplied HTTP grader: POST `{prompt, completion, answer}` → `{score}` with 0 ≤ score ≤ 1. Calls go
 * through the shared SSRF guard (src/common/ssrf-guard.ts: the resolved address is checked at connect time,
 * redirects are not followed), at most `concurrency` at once, each limited to `timeoutMs`, retried on timeouts,
 * network errors, 429 and 5xx with exponential backoff. A grader that keeps failing scores 0 with the reason;
 * it never throws.
 */
export interface HttpGraderOptions {
  url: string;
  timeoutMs: number;
  retries: number;
  concurrency: number;
  headers?: Record<string, string>;
  policy: OutboundPolicy;
  /** First backoff delay; doubled per retry (tests shorten it). */
  backoffMs?: number;
}

export interface GradeInput {
  prompt: string;
  completion: string;
  answer: string;
}

export interface GradeResult {
  score: number;
  reason: string;
  /** True when the grader could not be asked or answered badly (the score is then 0). */
  error?: boolean;
  attempts: number;
}

/** Response bodies longer than this are not a score. */
const MAX_RESPONSE_BYTES = 64 * 1024;

class Permanent extends Error {}

export class HttpGrader {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: HttpGraderOptions) {}

  async grade(input: GradeInput): Promise<GradeResult> {
    await this.acquire();
    try {
      return await this.attempt(input);
    } finally {
      this.release();
    }
  }

  private async attempt(input: GradeInput): Promise<GradeResult> {
    const { retries, backoffMs = 200 } = this.opts;
    let last = '';
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs * 2 ** (attempt - 1)));
      try {
        const score = await this.call(input);
        return { score, reason: `grader score ${score}`, attempts: attempt + 1 };
      } catch (e) {
        last = (e as Error).message;
        if (e instanceof Permanent || e instanceof OutboundRefusedError) {
          return { score: 0, reason: `grader error: ${last}`, error: true, attempts: attempt + 1 };
        }
      }
    }
    return {
      score: 0,
      reason: `grader error after ${retries + 1} attempts: ${last}`,
      error: true,
      attempts: retries + 1,
    };
  }

  private async call(input: GradeInput): Promise<number> {
    const res = await outboundRequest(
      this.opts.url,
      {
        method: 'POST',
        headers: { ...this.opts.headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ prompt: input.prompt, completion: input.completion, answer: input.answer }),
        timeoutMs: this.opts.timeoutMs,
        maxResponseBytes: MAX_RESPONSE_BYTES,
      },
      this.opts.policy,
    );
    if (res.status === 429 || res.status >= 500) throw new Error(`HTTP ${res.status}`);
    if (res.status < 200 || res.status >= 300) throw new Permanent(`HTTP ${res.status}`);
    if (res.truncated) throw new Permanent(`response longer than ${MAX_RESPONSE_BYTES} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new Permanent('response is not JSON');
    }
    const score = (body as { score?: unknown } | null)?.score;
    if (typeof score !== 'number' || !Number.isFinite(score) || score < 0 || score > 1) {
      throw new Permanent('response must be {"score": <number between 0 and 1>}');
    }
    return score;
  }

  private acquire(): Promise<void> {
    if (this.active < this.opts.concurrency) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
