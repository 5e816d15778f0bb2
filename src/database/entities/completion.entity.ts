import { Column, CreateDateColumn, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import { Job } from './job.entity.js';

/**
 * A few sampled completions per RL step (the learner's onCompletions hook), for people to read: one row per
 * (job, step, prompt group, sample), so a resumed run's redone steps land once, like metrics.
 */
@Entity('completions')
export class Completion {
  @PrimaryColumn('uuid')
  job_id: string;

  @PrimaryColumn('int')
  step: number;

  /** The prompt's index within the step. */
  @PrimaryColumn('int')
  prompt_index: number;

  /** The sample's index within its group of G. */
  @PrimaryColumn('int')
  sample_index: number;

  @ManyToOne(() => Job, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'job_id' })
  job?: Job;

  @Column('text')
  prompt: string;

  @Column('text')
  answer: string;

  @Column('text')
  completion: string;

  @Column('double precision')
  reward: number;

  @Column('boolean')
  positive: boolean;

  /** The algorithm's weight of the sample in its update (POPO's w); null when it has none (GRPO). */
  @Column('double precision', { nullable: true })
  weight: number | null;

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
