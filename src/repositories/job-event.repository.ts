import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { JobEvent, type JobEventLevel } from '../database/entities/index.js';

export interface NewJobEvent {
  level: JobEventLevel;
  code: string;
  message: string;
  step?: number | null;
  data?: Record<string, unknown> | null;
}

/** All SQL on `job_events`: a job's append-only log. */
@Injectable()
export class JobEventRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  /** Appends an event; pass the transaction's manager to make it part of a state change. */
  add(jobId: string, e: NewJobEvent, m: EntityManager = this.db.manager): Promise<JobEvent> {
    return m.save(
      m.create(JobEvent, {
        job_id: jobId,
        level: e.level,
        code: e.code,
        message: e.message,
        step: e.step ?? null,
        data: e.data ?? null,
      }),
    );
  }

  /** Events after id `after`, oldest first. */
  list(jobId: string, after: number, limit: number): Promise<JobEvent[]> {
    return this.db
      .getRepository(JobEvent)
      .createQueryBuilder('e')
      .where('e.job_id = :jobId AND e.id > :after', { jobId, after })
      .orderBy('e.id', 'ASC')
      .limit(limit)
      .getMany();
  }
}
