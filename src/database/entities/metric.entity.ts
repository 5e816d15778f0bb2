import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { JsonObject } from './json.js';
import { Job } from './job.entity.js';

/** One row per (job, step): the primary key is what makes a resumed run's re-reported steps land once. */
@Entity('metrics')
export class Metric {
  @PrimaryColumn('uuid')
  job_id: string;

  @PrimaryColumn('int')
  step: number;

  @ManyToOne(() => Job, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'job_id' })
  job?: Job;

  /** StepMetrics minus `step`: schema-free, each algorithm writes its own fields next to the common core. */
  @Column('jsonb')
  values: JsonObject;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
