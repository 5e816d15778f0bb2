import type { JsonObject } from './json.js';
import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Job } from './job.entity.js';

export type JobEventLevel = 'info' | 'warning' | 'error';

/** State changes, trainer warnings and eval results, in order (the bigserial id is the order). */
@Entity('job_events')
@Index(['job_id', 'id'])
export class JobEvent {
  @PrimaryGeneratedColumn('increment', { type: 'bigint' })
  id: number;

  @Column('uuid')
  job_id: string;

  @ManyToOne(() => Job, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'job_id' })
  job?: Job;

  @Column('text')
  level: JobEventLevel;

  /** Machine-readable: "status", "zero_positive_dominates", "eval", ... */
  @Column('text')
  code: string;

  @Column('text')
  message: string;

  @Column('int', { nullable: true })
  step: number | null;

  @Column('jsonb', { nullable: true })
  data: JsonObject | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
