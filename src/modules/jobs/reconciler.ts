import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { withTimeout } from '../../common/retry.js';
import { AppConfig } from '../../config/index.js';
import { JOB_QUEUE, type JobQueue } from '../../queue/job-queue.js';
import { JobRepository } from '../../repositories/job.repository.js';
import { DomainEvents } from './domain-events.js';
import { JobEventsService } from './job-events.service.js';

/** Rows per sweep: one SQL statement and one queue round trip each, whatever the size of the table. */
export const RECONCILE_BATCH = 500;
const FIRST_ID = '00000000-0000-0000-0000-000000000000';

export interface SweepReport {
  /** Unfinished rows looked at. */
  scanned: number;
  /** Rows that had no queue entry and were put back on the queue. */
  enqueued: string[];
  /** Ownerless `cancelling` rows finished as `cancelled`. */
  cancelled: string[];
  /** The pass reached the end of the table (the next sweep starts from the beginning). */
  wrapped: boolean;
}

/**
 * Postgres is the truth, the queue a cache of it. Redis can lose entries (restarted empty, an entry failed after
 * its attempts while the database was down), and a worker can die between writes; what is left is a row that says
 * `queued`, `running` or `cancelling` with nobody working on it. Every API and worker process sweeps for those at
 * start and every POPO_RECONCILE_INTERVAL_MS:
 *
 * - `queued` with no queue entry → enqueued again;
 * - `running` whose heartbeat is stale (POPO_RECONCILE_STALE_MS) and with no queue entry → enqueued again; a
 *   worker claims it as a recovered run and resumes from the last checkpoint (a pending pause is applied then);
 * - `cancelling` whose heartbeat is stale → `cancelled` right here, queue entry or not, so a cancel completes
 *   even with no worker alive (a dead worker's entry stays `active` until some live worker's stalled check).
 *   A run that was only stuck loses its fence and stops at its next write.
 *
 * A live run refreshes its heartbeat every step and keeps its queue entry (its lock), so it is never touched.
 * Every action is idempotent (enqueue dedups by job id, the cancel is a conditional update), so any number of
 * processes may sweep at once without coordination. Each sweep reads one page of RECONCILE_BATCH rows in id order
 * and continues where the last one stopped, so its cost is bounded however many jobs wait.
 */
@Injectable()
export class JobReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Reconciler');
  private timer?: NodeJS.Timeout;
  private running?: Promise<SweepReport | undefined>;
  private cursor = FIRST_ID;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly jobs: JobRepository,
    @Inject(JOB_QUEUE) private readonly queue: JobQueue,
    private readonly events: JobEventsService,
    private readonly domain: DomainEvents,
  ) {}

  /** Whether this queue driver can be reconciled (tests' stand-in queues may not say what they hold). */
  get enabled(): boolean {
    return typeof this.queue.missing === 'function';
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    // A full pass at start, in the background: a dependency that is down must not keep the process from booting.
    void this.fullPass().catch((e: Error) => this.logger.warn(`start-up sweep: ${e.message}`));
    const every = this.config.reconcile.intervalMs;
    if (every > 0) {
      // ±20 % jitter so processes started together do not sweep in lockstep.
      this.timer = setInterval(() => void this.sweep(), Math.round(every * (0.9 + 0.2 * Math.random())));
      this.timer.unref();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Sweeps until the pass wraps around the table (at start, and in tests). */
  async fullPass(): Promise<SweepReport> {
    const total: SweepReport = { scanned: 0, enqueued: [], cancelled: [], wrapped: false };
    this.cursor = FIRST_ID;
    while (!this.stopped) {
      const r = await this.sweep({ throwErrors: true });
      if (!r) break;
      total.scanned += r.scanned;
      total.enqueued.push(...r.enqueued);
      total.cancelled.push(...r.cancelled);
      if (r.wrapped) {
        total.wrapped = true;
        break;
      }
    }
    return total;
  }

  /** One page; a sweep already in flight is joined rather than doubled. Errors are logged (or thrown if asked). */
  sweep(opts: { throwErrors?: boolean } = {}): Promise<SweepReport | undefined> {
    if (!this.enabled || this.stopped) return Promise.resolve(undefined);
    this.running ??= this.page().finally(() => (this.running = undefined));
    return this.running.catch((e: Error) => {
      if (opts.throwErrors) throw e;
      this.logger.warn(`sweep failed (will try again): ${e.message}`);
      return undefined;
    });
  }

  private async page(): Promise<SweepReport> {
    const { staleMs } = this.config.reconcile;
    const rows = await this.jobs.reconcilePage(this.cursor, staleMs, RECONCILE_BATCH);
    const wrapped = rows.length < RECONCILE_BATCH;
    this.cursor = wrapped ? FIRST_ID : rows[rows.length - 1].id;
    const report: SweepReport = { scanned: rows.length, enqueued: [], cancelled: [], wrapped };
    for (const row of rows)
      if (row.status === 'cancelling' && row.stale && (await this.finishCancel(row.id, row.attempts)))
        report.cancelled.push(row.id);
    const candidates = rows.filter((r) => r.status === 'queued' || (r.status === 'running' && r.stale));
    if (!candidates.length) return this.logged(report);
    const missing = new Set(
      await withTimeout(
        this.queue.missing!(candidates.map((r) => r.id)),
        this.config.queueTimeoutMs,
        'the queue',
      ),
    );
    for (const row of candidates) {
      if (!missing.has(row.id)) continue;
      await withTimeout(
        this.queue.enqueue(row.id, { priority: row.priority }),
        this.config.queueTimeoutMs,
        'the queue',
      );
      report.enqueued.push(row.id);
    }
    return this.logged(report);
  }

  private logged(report: SweepReport): SweepReport {
    if (report.enqueued.length || report.cancelled.length)
      this.logger.log(
        `re-enqueued ${report.enqueued.length} job(s) without a queue entry` +
          (report.cancelled.length ? `, finished ${report.cancelled.length} ownerless cancel(s)` : '') +
          `: ${[...report.enqueued, ...report.cancelled].join(', ')}`,
      );
    return report;
  }

  private async finishCancel(id: string, attempts: number): Promise<boolean> {
    const done = await this.jobs.transaction(async (m) => {
      const job = await this.jobs.finishOrphanedCancel(m, id, attempts, this.config.reconcile.staleMs);
      if (!job) return undefined;
      const event = await this.events.add(
        id,
        {
          level: 'warning',
          code: 'status',
          message: 'cancel completed by the reconciler: the run had no live worker',
          step: job.progress_step,
          data: { from: 'cancelling', to: 'cancelled', reconciled: true },
        },
        m,
      );
      return { job, event };
    });
    if (!done) return false;
    this.events.publish(done.event, done.job.project_id);
    await this.domain.jobChanged(done.job);
    return true;
  }
}
