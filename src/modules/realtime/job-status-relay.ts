import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { Job, JobEvent } from '../../database/entities/index.js';
import type { JobStatusPublisher } from '../jobs/job-status-publisher.js';
import { WebhooksService } from '../webhooks/webhooks.service.js';
import { eventPayload, statusPayload } from './payloads.js';
import { REALTIME_PUBLISHER, type RealtimePublisher } from './realtime-publisher.js';

/**
 * The core JobsService's hook for changes the API makes itself (create, cancel, pause, resume, retry): relays
 * them to sockets, and logs a webhook delivery when the change is terminal (cancelling a queued job).
 */
@Injectable()
export class JobStatusRelay implements JobStatusPublisher {
  constructor(
    @Inject(REALTIME_PUBLISHER) private readonly publisher: RealtimePublisher,
    private readonly webhooks: WebhooksService,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async statusChanged(job: Job): Promise<void> {
    this.publisher.emit('job.status', statusPayload(job));
    await this.webhooks.enqueueTerminal(job);
  }

  async eventAdded(event: JobEvent): Promise<void> {
    const rows = (await this.db.query('SELECT project_id FROM jobs WHERE id = $1', [event.job_id])) as {
      project_id: string;
    }[];
    if (rows[0]) this.publisher.emit('job.event', eventPayload(event, rows[0].project_id));
  }
}
