import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import type { Job } from './job.entity.js';

@Entity('checkpoints')
@Index(['job_id', 'step'], { unique: true })
export class Checkpoint {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  job_id: string;

  // Lazy-typed to break the jobs ↔ checkpoints import cycle (jobs.from_checkpoint_id points back here).
  @ManyToOne('Job', { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'job_id' })
  job?: Job;

  @Column('int')
  step: number;

  /** sha256 of the whole blob, checked again after the chunks are joined. */
  @Column('char', { length: 64 })
  sha256: string;

  @Column('bigint')
  size_bytes: number;

  @Column('int')
  chunk_count: number;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
