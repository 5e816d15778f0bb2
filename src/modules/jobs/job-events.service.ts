import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import type { JobEvent } from '../../database/entities/index.js';
import { JobEventRepository, type NewJobEvent } from '../../repositories/job-event.repository.js';
import { eventPayload } from '../realtime/payloads.js';
import { REALTIME_PUBLISHER, type RealtimePublisher } from '../realtime/realtime-publisher.js';

export type { NewJobEvent };

/** A job's event log: written through JobEventRepository, announced to sockets as `job.event` once committed. */
@Injectable()
export class JobEventsService {
  private readonly logger = new Logger(JobEventsService.name);

  constructor(
    private readonly repo: JobEventRepository,
    // Absent in a process without the realtime module (a bare core app in tests): events are then only in Postgres.
    @Optional() @Inject(REALTIME_PUBLISHER) private readonly publisher?: RealtimePublisher,
  ) {}

  /** Appends an event; pass the transaction's manager to make it part of a state change, then `publish` it. */
  add(jobId: string, event: NewJobEvent, manager?: EntityManager): Promise<JobEvent> {
    return this.repo.add(jobId, event, manager);
  }

  list(jobId: string, after = 0, limit = 100): Promise<JobEvent[]> {
    return this.repo.list(jobId, after, limit);
  }

  /** Best effort: a realtime hiccup must not fail a request whose change is already committed. */
  publish(event: JobEvent, projectId: string): void {
    try {
      this.publisher?.emit('job.event', eventPayload(event, projectId));
    } catch (e) {
      this.logger.warn(`publishing job event ${event.id} failed: ${(e as Error).message}`);
    }
  }
}
