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

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

/** The delivery log: one row per (job, event); attempts and the last response are updated in place. */
@Entity('webhook_deliveries')
@Index(['status', 'next_attempt_at'])
export class WebhookDelivery {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index()
  @Column('uuid')
  job_id: string;

  @ManyToOne(() => Job, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'job_id' })
  job?: Job;

  @Column('text')
  url: string;

  /** e.g. "job.succeeded". */
  @Column('text')
  event: string;

  @Column('jsonb')
  payload: JsonObject;

  @Column('text', { default: 'pending' })
  status: WebhookDeliveryStatus;

  @Column('int', { default: 0 })
  attempts: number;

  @Column('int', { nullable: true })
  response_status: number | null;

  @Column('text', { nullable: true })
  last_error: string | null;

  @Column('timestamptz', { nullable: true })
  next_attempt_at: Date | null;

  @Column('timestamptz', { nullable: true })
  delivered_at: Date | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
