import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { JobEvent, type JobEventLevel } from '../../database/entities/index.js';
import { JOB_STATUS_PUBLISHER, type JobStatusPublisher } from './job-status-publisher.js';

export interface NewJobEvent {
  level: JobEventLevel;
  code: string;
  message: string;
  step?: number | null;
  data?: Record<string, unknown> | null;
}

@Injectable()
export class JobEventsService {
  private readonly logger = new Logger(JobEventsService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Optional() @Inject(JOB_STATUS_PUBLISHER) private readonly publisher?: JobStatusPublisher,
  ) {}

  /** Appends an event; pass the transaction's manager to make it part of a state change. */
  async add(jobId: string, event: NewJobEvent, manager: EntityManager = this.db.manager): Promise<JobEvent> {
    const saved = await manager.save(
      manager.create(JobEvent, {
        job_id: jobId,
        level: event.level,
        code: event.code,
        message: event.message,
        step: event.step ?? null,
        data: event.data ?? null,
      }),
    );
    if (manager === this.db.manager) await this.publish(() => this.publisher?.eventAdded?.(saved));
    return saved;
  }

  async list(jobId: string, after = 0, limit = 100): Promise<JobEvent[]> {
    return this.db
      .getRepository(JobEvent)
      .createQueryBuilder('e')
      .where('e.job_id = :jobId AND e.id > :after', { jobId, after })
      .orderBy('e.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Publishing is best effort: a realtime hiccup must not fail a request whose change is already committed. */
  async publish(fn: () => void | Promise<void> | undefined): Promise<void> {
    try {
      await fn();
    } catch (e) {
      this.logger.warn(`publishing a job update failed: ${(e as Error).message}`);
    }
  }

  get statusPublisher(): JobStatusPublisher | undefined {
    return this.publisher;
  }
}
