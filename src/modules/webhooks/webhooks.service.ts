import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { OutboundRefusedError, outboundRequest } from '../../common/ssrf-guard.js';
import { AppConfig } from '../../config/index.js';
import { TERMINAL_STATUSES, WebhookDelivery, type JobStatus } from '../../database/entities/index.js';
import { DomainEvents } from '../jobs/domain-events.js';
import type { JobDto } from '../jobs/dto/job.dto.js';
import { wire } from '../realtime/payloads.js';
import { RuntimeConfig } from '../worker/runtime-config.js';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signatureHeader } from './signature.js';

/** A claimed delivery is invisible to other pollers for this long, so a slow receiver is never hit twice at once. */
const CLAIM_LEASE_MS = 120_000;
const MAX_BACKOFF_MS = 3_600_000;

interface ClaimedDelivery {
  id: string;
  job_id: string;
  url: string;
  event: string;
  payload: Record<string, unknown>;
  attempts: number;
  created_at: Date;
  webhook_secret: string;
}

/**
 * Signed webhook deliveries for a job's terminal state. The webhook_deliveries table is both the delivery log
 * and the retry queue: every process polls it for due rows with FOR UPDATE SKIP LOCKED, so retries survive
 * restarts, need no Redis (embedded mode) and are never sent twice concurrently by two workers.
 */
@Injectable()
export class WebhooksService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhooksService.name);
  private timer?: NodeJS.Timeout;
  private polling?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly runtime: RuntimeConfig,
    private readonly config: AppConfig,
    private readonly events: DomainEvents,
  ) {}

  /** One of `job.changed`'s two handlers (the socket relay is the other). */
  onModuleInit(): void {
    this.events.on('job.changed', async (job) => {
      await this.enqueueTerminal(job);
    });
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.kick(), this.runtime.webhook.pollMs);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
  }

  /**
   * Logs a delivery of the job's terminal state (no-op without a webhook URL or for a non-terminal status)
   * and sends it soon. The payload's `job` is the REST job DTO.
   */
  async enqueueTerminal(job: JobDto): Promise<WebhookDelivery | undefined> {
    const manager = this.db.manager;
    if (!job.webhook_url || !TERMINAL_STATUSES.includes(job.status as JobStatus)) return undefined;
    const event = `job.${job.status}`;
    // Keyed by attempt so a retried job that fails again is announced again, but one attempt only once.
    const existing = await manager
      .getRepository(WebhookDelivery)
      .createQueryBuilder('d')
      .where("d.job_id = :id AND d.event = :event AND (d.payload->>'attempt')::int = :attempt", {
        id: job.id,
        event,
        attempt: job.attempts,
      })
      .getOne();
    if (existing) return existing;
    const delivery = await manager.save(
      manager.create(WebhookDelivery, {
        job_id: job.id,
        url: job.webhook_url,
        event,
        payload: { attempt: job.attempts, job: wire(job) },
        status: 'pending',
        next_attempt_at: new Date(),
      }),
    );
    this.kick();
    return delivery;
  }

  /** Starts a poll now (or right after the running one). */
  kick(): void {
    if (this.stopped) return;
    if (this.polling) {
      this.again = true;
      return;
    }
    this.polling = (async () => {
      try {
        do {
          this.again = false;
          await this.deliverDue();
        } while (this.again && !this.stopped);
      } catch (e) {
        this.logger.warn(`webhook poll failed: ${(e as Error).message}`);
      } finally {
        this.polling = undefined;
      }
    })();
  }

  /** Sends every due delivery (up to `limit`) once; returns how many were attempted. */
  async deliverDue(limit = 20): Promise<number> {
    // An UPDATE through TypeORM answers [rows, affected].
    const [claimed] = (await this.db.query(
      `WITH due AS (
         SELECT id FROM webhook_deliveries
          WHERE status = 'pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $2)
         FROM due, jobs j, projects p
        WHERE d.id = due.id AND j.id = d.job_id AND p.id = j.project_id
       RETURNING d.id, d.job_id, d.url, d.event, d.payload, d.attempts, d.created_at, p.webhook_secret`,
      [limit, CLAIM_LEASE_MS / 1000],
    )) as [ClaimedDelivery[], number];
    await Promise.all(claimed.map((d) => this.send(d)));
    return claimed.length;
  }

  private async send(d: ClaimedDelivery): Promise<void> {
    const body = JSON.stringify({
      id: d.id,
      event: d.event,
      created_at: new Date(d.created_at).toISOString(),
      data: d.payload,
    });
    let responseStatus: number | null = null;
    let error: string | null = null;
    let refused = false;
    try {
      // Checked again here, at connect time, against the address actually dialled: the URL was accepted at
      // creation, but its DNS may point somewhere else by now.
      const res = await outboundRequest(
        d.url,
        {
          method: 'POST',
          body,
          timeoutMs: this.runtime.webhook.timeoutMs,
          maxResponseBytes: 0,
          headers: {
            'content-type': 'application/json',
            'user-agent': 'popo-webhooks/1',
            [SIGNATURE_HEADER]: signatureHeader(d.webhook_secret, body),
            [EVENT_HEADER]: d.event,
            [DELIVERY_HEADER]: d.id,
          },
        },
        this.config.outbound,
      );
      responseStatus = res.status;
      if (res.status < 200 || res.status >= 300) error = `receiver answered HTTP ${res.status}`;
    } catch (e) {
      // A forbidden destination will not become allowed by retrying.
      refused = e instanceof OutboundRefusedError;
      const err = e as Error & { cause?: { code?: string; message?: string } };
      error =
        err.name === 'TimeoutError'
          ? `no answer within ${this.runtime.webhook.timeoutMs} ms`
          : (err.cause?.message ?? err.message);
    }
    const attempts = d.attempts + 1;
    const { maxAttempts, backoffMs } = this.runtime.webhook;
    if (!error) {
      await this.db.query(
        `UPDATE webhook_deliveries SET status = 'delivered', attempts = $2, response_status = $3, last_error = NULL,
                delivered_at = now(), next_attempt_at = NULL WHERE id = $1`,
        [d.id, attempts, responseStatus],
      );
      return;
    }
    const giveUp = refused || attempts >= maxAttempts;
    const delay = Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempts - 1));
    await this.db.query(
      `UPDATE webhook_deliveries SET status = $2, attempts = $3, response_status = $4, last_error = $5,
              next_attempt_at = CASE WHEN $2 = 'pending' THEN now() + make_interval(secs => $6) END WHERE id = $1`,
      [d.id, giveUp ? 'failed' : 'pending', attempts, responseStatus, error, delay / 1000],
    );
    if (giveUp)
      this.logger.warn(`webhook ${d.id} for job ${d.job_id} failed after ${attempts} attempts: ${error}`);
    else {
      // Wake up for the retry even if the poll interval is longer than the backoff.
      const t = setTimeout(() => this.kick(), delay + 5);
      t.unref();
    }
  }
}
